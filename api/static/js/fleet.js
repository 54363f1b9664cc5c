import { api, badge, debounce, el, fmtDuration, live, page, qs, showError } from "./common.js";

const STATES = ["alarm", "warning", "watch", "healthy", "unknown"];
const main = document.getElementById("main");
const me = await page("fleet");
void me;

const cards = el("div", { class: "cards", id: "summary" });
const f = {
  customer: el("input", { id: "f-customer", placeholder: "any" }),
  site: el("input", { id: "f-site", placeholder: "any" }),
  model: el("select", { id: "f-model" }, el("option", { value: "" }, "any")),
  health: el("select", { id: "f-health" }, el("option", { value: "" }, "any"), STATES.map((s) => el("option", { value: s }, s))),
};
const tbody = el("tbody", { id: "units" });
const counter = el("span", { class: "muted", id: "count" });
main.append(
  el("h1", {}, "Fleet overview"), cards,
  el("div", { class: "filters" }, el("label", {}, "Customer", f.customer), el("label", {}, "Site", f.site),
    el("label", {}, "Model", f.model), el("label", {}, "Health", f.health), counter),
  el("h2", {}, "Units, closest to failure first"),
  el("table", {}, el("thead", {}, el("tr", {}, ["Unit", "Health", "Failure mode", "Time to failure", "Model",
    "Customer", "Site", "Presence"].map((h) => el("th", {}, h)))), tbody));

for (const m of (await api("/models")).data) f.model.append(el("option", { value: m.name }, m.name));

async function refresh() {
  try {
    const filt = { customer: f.customer.value, site: f.site.value, model: f.model.value };
    const summary = await api(`/units/summary${qs(filt)}`);
    cards.replaceChildren(...STATES.map((s) => el("div", { class: "card", "data-state": s },
      el("div", { class: "n" }, summary[s] ?? 0), el("div", { class: "l" }, badge(s)))));
    const units = await api(`/units${qs({ ...filt, health: f.health.value, sort: "ttf", limit: 500 })}`);
    counter.textContent = `${units.count} unit(s)`;
    tbody.replaceChildren(...units.data.map((u) => {
      const h = u.health || {};
      const ttf = h.ttf_s != null
        ? `${fmtDuration(h.ttf_s)} (${fmtDuration(h.ttf_low_s)} – ${fmtDuration(h.ttf_high_s)})` : "–";
      return el("tr", { "data-unit": u.device_id },
        el("td", {}, el("a", { href: `/ui/unit?id=${encodeURIComponent(u.device_id)}` }, u.device_id)),
        el("td", {}, badge(h.state)), el("td", {}, (h.failure_mode || "–").replaceAll("_", " ")), el("td", {}, ttf),
        el("td", {}, u.model || "–"), el("td", {}, u.customer || "–"), el("td", {}, u.site || "–"),
        el("td", {}, u.presence));
    }));
  } catch (err) { showError(err); }
}

for (const input of Object.values(f)) input.addEventListener("input", debounce(refresh));
await refresh();
live(debounce(refresh, 1000));
