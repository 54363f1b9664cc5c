import { api, badge, debounce, el, fmtDuration, fmtTime, live, newest, page, presenceText, qs, showError, timeLeft, ttfWords, words } from "./common.js";

const STATES = ["alarm", "warning", "watch", "healthy", "unknown"];
const PAGE = 100;  // units per page of the table (the API pages them in the database)
const SORTS = [["ttf", "closest to failure first"], ["health", "worst health first"], ["device_id", "serial number"]];
const main = document.getElementById("main");
const me = await page("fleet");
void me;

const cards = el("div", { class: "cards", id: "summary" });
const f = {
  customer: el("input", { id: "f-customer", placeholder: "any", list: "customers" }),
  site: el("input", { id: "f-site", placeholder: "any", list: "sites" }),
  model: el("select", { id: "f-model" }, el("option", { value: "" }, "any")),
  health: el("select", { id: "f-health" }, el("option", { value: "" }, "any"), STATES.map((s) => el("option", { value: s }, s))),
  sort: el("select", { id: "f-sort" }, SORTS.map(([v, l]) => el("option", { value: v }, l))),
};
// customer and site match exactly as registered: the choices are offered (typing "acme" finds no "ACME")
const lists = { customers: el("datalist", { id: "customers" }), sites: el("datalist", { id: "sites" }) };
const tbody = el("tbody", { id: "units" });
const counter = el("span", { class: "muted", id: "count" });
let offset = 0;
const prev = el("button", { class: "secondary", id: "page-prev", onclick: () => { offset = Math.max(0, offset - PAGE); refresh(); } }, "← Previous");
const next = el("button", { class: "secondary", id: "page-next", onclick: () => { offset += PAGE; refresh(); } }, "Next →");
const heading = el("h2", { id: "units-heading" }, "Units, closest to failure first");
main.append(
  el("h1", {}, "Fleet overview"), cards, lists.customers, lists.sites,
  el("div", { class: "filters" }, el("label", {}, "Customer", f.customer), el("label", {}, "Site", f.site),
    el("label", {}, "Model", f.model), el("label", {}, "Health", f.health), el("label", {}, "Sort", f.sort)),
  heading,
  el("table", {}, el("thead", {}, el("tr", {}, ["Unit", "Health", "Failure mode", "Time to failure", "Model",
    "Customer", "Site", "Presence"].map((h) => el("th", {}, h)))), tbody),
  el("div", { class: "filters pager" }, prev, counter, next));

try {  // the model filter's choices; the table works without them
  for (const m of (await api("/models")).data) f.model.append(el("option", { value: m.name }, m.name));
} catch (err) { showError(err); }
async function loadFacets() {
  const fc = await api("/units/facets");
  lists.customers.replaceChildren(...fc.customers.map((c) => el("option", { value: c })));
  lists.sites.replaceChildren(...fc.sites.map((c) => el("option", { value: c })));
}
await loadFacets().catch(showError);

// what the failure-mode column says: the diagnosis, or why the unit could not be assessed
function mode(h) {
  if (h.failure_mode) return words(h.failure_mode);
  if (h.sensor_fault) return `sensor fault (${words(h.sensor_fault)})`;
  return "–";
}

// The time to failure counted from now, with its range (common.js ttfWords): a unit that stopped reporting
// showed the time left at its last assessment for as long as it stayed silent. "overdue (due …)" once run out.
function ttfCell(h) {
  const t = timeLeft(h);
  if (!t) return "–";
  const w = ttfWords(h);
  if (t.reached || w.main === "due now") return w.main;
  if (w.overdue) return `overdue (due ${fmtTime(t.due)})`;
  const low = t.low !== null && t.low <= 0 ? "now" : fmtDuration(t.low);
  return `${w.main} (${low} – ${fmtDuration(t.high)})`;
}
let counting = [];  // the cells counting down, with their unit's health; drawn again every 15 s between refreshes
setInterval(() => { for (const [cell, h] of counting) cell.textContent = ttfCell(h); }, 15e3);

const current = newest();  // filters change while a live refresh is under way

async function refresh() {
  const mine = current();
  try {
    const filt = { customer: f.customer.value, site: f.site.value, model: f.model.value };
    const summary = await api(`/units/summary${qs(filt)}`);
    if (!mine()) return;
    cards.replaceChildren(...STATES.map((s) => el("div", { class: "card", "data-state": s },
      el("div", { class: "n" }, summary[s] ?? 0), el("div", { class: "l" }, badge(s)))));
    const units = await api(`/units${qs({ ...filt, health: f.health.value, sort: f.sort.value, limit: PAGE, offset })}`);
    if (!mine()) return;
    if (offset > 0 && offset >= units.count) { offset = Math.max(0, Math.floor((units.count - 1) / PAGE) * PAGE); return refresh(); }
    const n = units.count.toLocaleString("en");
    counter.textContent = units.count === 0 ? "0 units"
      : units.count <= PAGE && offset === 0 ? `${n} unit${units.count === 1 ? "" : "s"}`
        : `units ${(offset + 1).toLocaleString("en")}–${(offset + units.data.length).toLocaleString("en")} of ${n}`;
    prev.disabled = offset === 0;
    next.disabled = offset + units.data.length >= units.count;
    heading.textContent = `Units, ${SORTS.find(([v]) => v === f.sort.value)[1]}`;
    counting = [];
    tbody.replaceChildren(...units.data.map((u) => {
      const h = u.health || {};
      const cell = el("td", { class: "ttf-left" }, ttfCell(h));
      if (h.ttf_s != null) counting.push([cell, h]);
      return el("tr", { "data-unit": u.device_id },
        el("td", {}, el("a", { href: `/ui/unit?id=${encodeURIComponent(u.device_id)}` }, u.device_id)),
        el("td", {}, badge(h.state)), el("td", {}, mode(h)), cell,
        el("td", {}, u.model || "–"), el("td", {}, u.customer || "–"), el("td", {}, u.site || "–"),
        el("td", {}, presenceText(u)));
    }));
    if (!units.data.length) {
      tbody.append(el("tr", {}, el("td", { colspan: 8, class: "muted", id: "no-units" },
        Object.values(f).some((x) => x !== f.sort && x.value)
          ? "No unit matches these filters (customer and site are matched exactly as registered)."
          : "No units registered yet (foreshock devices add, or the API's POST /units).")));
    }
  } catch (err) { showError(err); }
}

// a changed filter or order starts again at the first page
for (const input of Object.values(f)) input.addEventListener("input", debounce(() => { offset = 0; refresh(); }));
await refresh();
live(debounce(refresh, 1000), ["alert", "ticket", "health"]);  // health: states and times to failure move
