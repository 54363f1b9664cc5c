import { api, debounce, el, live, page, qs, showError } from "./common.js";
import { paretoChart } from "./charts.js";

const main = document.getElementById("main");
await page("reports");
const days = el("select", { id: "days" }, [30, 90, 365].map((d) => el("option", { value: d, selected: d === 90 }, `${d} days`)));
const by = el("select", { id: "top-by" }, [["device_id", "units"], ["model", "models"], ["customer", "customers"], ["site", "sites"]]
  .map(([v, l]) => el("option", { value: v }, l)));
const chart = el("div", { id: "pareto" });
const top = el("tbody", { id: "top5" });
main.append(el("h1", {}, "Reports"), el("div", { class: "filters" }, el("label", {}, "Period", days)),
  el("div", { class: "panel" }, el("h2", {}, "Pareto of failure modes (tickets)"), chart),
  el("div", { class: "panel" }, el("div", { class: "filters" }, el("h2", {}, "TOP-5"), el("label", {}, "By", by)),
    el("table", {}, el("thead", {}, el("tr", {}, ["#", "Key", "Tickets", "Open", "Critical"].map((h) => el("th", {}, h)))), top)));

async function refresh() {
  try {
    const p = await api(`/reports/pareto${qs({ days: days.value })}`);
    if (p.bars.length) paretoChart(chart, p); else chart.replaceChildren(el("p", { class: "muted" }, "No tickets in this period."));
    const t = await api(`/reports/top${qs({ days: days.value, by: by.value, n: 5 })}`);
    top.replaceChildren(...t.items.map((it, i) => el("tr", {}, el("td", {}, i + 1),
      el("td", {}, by.value === "device_id" ? el("a", { href: `/ui/unit?id=${encodeURIComponent(it.key)}` }, it.key) : it.key),
      el("td", {}, it.tickets), el("td", {}, it.open), el("td", {}, it.critical))));
  } catch (err) { showError(err); }
}
days.addEventListener("change", refresh);
by.addEventListener("change", refresh);
await refresh();
live(debounce(refresh, 2000));  // tickets opened or closed change the counts
