import { api, debounce, el, fmtDuration, live, newest, page, qs, showError, token, words } from "./common.js";
import { paretoChart } from "./charts.js";

const main = document.getElementById("main");
await page("reports");
const days = el("select", { id: "days" }, [30, 90, 365].map((d) => el("option", { value: d, selected: d === 90 }, `${d} days`)));
const by = el("select", { id: "top-by" }, [["device_id", "units"], ["model", "models"], ["customer", "customers"], ["site", "sites"]]
  .map(([v, l]) => el("option", { value: v }, l)));
// Two Pareto charts side by side: what Foreshock warned of (the tickets as the detectors or the complaint
// named them) and what was found on site (closure feedback: no false alarm, a different fault under its
// own name; docs/quality-loop.md). A quality manager ranks failures by the second.
const chart = el("div", { id: "pareto" });
const foundChart = el("div", { id: "pareto-found" });
const top = el("tbody", { id: "top5" });
main.append(el("h1", {}, "Reports"), el("div", { class: "filters" }, el("label", {}, "Period", days)),
  el("div", { class: "grid2" },
    el("div", { class: "panel" }, el("h2", {}, "What we warned of: tickets per failure mode"),
      el("p", { class: "muted" }, "as the detectors or the customer's complaint named them"), chart),
    el("div", { class: "panel" }, el("h2", {}, "What was found on site: failures per failure mode"),
      el("p", { class: "muted" }, "from closure feedback: tickets with no fault found left out, a different fault "
        + "counted under the one found; tickets without feedback as named"), foundChart)),
  el("div", { class: "panel" }, el("div", { class: "filters" }, el("h2", {}, "TOP-5"), el("label", {}, "By", by)),
    el("table", {}, el("thead", {}, el("tr", {}, ["#", "Key", "Tickets", "Failures found", "Open", "Critical"]
      .map((h) => el("th", {}, h)))), top)));

function drawPareto(where, p, none, unit) {
  const bars = p.bars.map((b) => ({ ...b, key: words(b.key) }));  // failure modes in words, like on every page
  if (bars.length) paretoChart(where, { ...p, bars, unit }); else where.replaceChildren(el("p", { class: "muted" }, none));
}

const current = newest();  // the period or the TOP-5's key change while a live refresh is under way

async function refresh() {
  const mine = current();
  try {
    const [p, f] = await Promise.all([api(`/reports/pareto${qs({ days: days.value })}`),
      api(`/reports/pareto${qs({ days: days.value, count: "failures" })}`)]);
    if (!mine()) return;
    drawPareto(chart, p, "No tickets in this period.", "tickets");
    drawPareto(foundChart, f, p.total ? "No failures found on site: every ticket of this period was judged a false alarm."
      : "No tickets in this period.", "failures");
    const t = await api(`/reports/top${qs({ days: days.value, by: by.value, n: 5 })}`);
    if (!mine()) return;
    top.replaceChildren(...t.items.map((it, i) => el("tr", { "data-key": it.key }, el("td", {}, i + 1),
      el("td", {}, by.value === "device_id" ? el("a", { href: `/ui/unit?id=${encodeURIComponent(it.key)}` }, it.key) : it.key),
      el("td", {}, it.tickets), el("td", {}, it.failures ?? "–"), el("td", {}, it.open), el("td", {}, it.critical))));
  } catch (err) { showError(err); }
}
// The monthly quality report (GET /reports/monthly): the month in the report's time zone (setting
// alerts.report_timezone), its counts, SLA compliance per grade and kind, MTTA/MTTR and field precision.
// The page opens on the month the API calls current: the month it is now in that zone by the *server's*
// clock (below), so a browser whose clock or zone is off still opens on the right month.
const month = el("input", { id: "month", type: "month", required: true });
const csvButton = el("button", { type: "button", id: "monthly-csv" }, "Download CSV");
const monthly = el("div", { id: "monthly" });
main.append(el("div", { class: "panel" }, el("div", { class: "filters" }, el("h2", {}, "Monthly report"),
  el("label", {}, "Month", month), csvButton), monthly));

const when = (iso) => `${iso.slice(0, 16).replace("T", " ")} ${iso.slice(19) || "+00:00"}`;  // 2026-11-01 00:00 +01:00
const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 1000) / 10} %`);
const card = (n, label) => el("div", { class: "card" }, el("div", { class: "n" }, n), el("div", { class: "l as-written" }, label));

function renderMonthly(r) {
  const t = r.tickets;
  const slaRows = Object.entries(r.sla).map(([key, row]) => el("tr", { "data-sla": key }, el("td", {}, key),
    el("td", {}, row.tickets), el("td", {}, `${row.response_met} / ${row.response_missed}`), el("td", {}, pct(row.response_compliance)),
    el("td", {}, `${row.resolution_met} / ${row.resolution_missed}`), el("td", {}, pct(row.resolution_compliance))));
  const fp = r.field_precision.all;
  monthly.replaceChildren(
    el("p", { class: "muted", id: "monthly-period" }, `${when(r.period.start)} to ${when(r.period.end)} (${r.timezone})`),
    el("div", { class: "cards" }, card(t.opened, "tickets opened"), card(t.closed, "closed"),
      card(t.closed_unverified, "closed unverified"), card(t.sla_breaches, "SLA clocks missed"),
      card(t.repeat_failures, "repeat failures"), card(t.fleet_problems, "fleet problems"),
      card(fmtDuration(r.mtta_s), "mean time to acknowledge"), card(fmtDuration(r.mttr_s), "mean time to resolve"),
      card(pct(fp.precision), `field precision (${fp.confirmed} confirmed, ${fp.false_alarm} false)`)),
    el("table", { id: "monthly-sla" }, el("thead", {}, el("tr", {}, ["SLA", "Tickets", "Response met / missed", "Response compliance",
      "Resolution met / missed", "Resolution compliance"].map((h) => el("th", {}, h)))), el("tbody", {}, slaRows)),
    el("p", { class: "muted", id: "monthly-top5" }, "TOP-5 failure modes warned of (tickets): ", top5(r.top5_failure_modes)),
    r.failures ? el("p", { class: "muted", id: "monthly-failures" }, `TOP-5 failures found on site (${r.failures.count} in all): `,
      top5(r.failures.top5_failure_modes)) : "");
}

const top5 = (rows) => (rows.length ? rows.map((m) => `${words(m.failure_mode)} (${m.count})`).join(", ") : "none");

const currentMonth = newest();  // a month chosen while an older report loads is not overwritten

async function refreshMonthly() {
  const mine = currentMonth();
  if (!month.value) {  // a cleared month: no report of another month left standing beside it
    monthly.replaceChildren(el("p", { class: "muted", id: "monthly-period" }, "Choose a month to see its report."));
    return;
  }
  try {
    const r = await api(`/reports/monthly${qs({ month: month.value })}`);
    if (mine()) renderMonthly(r);
  } catch (err) { showError(err); }
}

// The first report is asked for without a month: the API answers with its current month, which the
// month field then shows.
async function openMonthly() {
  const mine = currentMonth();
  try {
    const r = await api("/reports/monthly");
    if (!mine()) return;  // a month was chosen meanwhile
    month.value = r.month;
    renderMonthly(r);
  } catch (err) { showError(err); }
}

// A link cannot carry the bearer token: fetch, then save. The button waits for its answer ("Preparing…"): a
// second click while the report was fetched (seconds over a slow link) started a second download.
csvButton.addEventListener("click", async () => {
  if (csvButton.disabled) return;
  if (!month.value) { showError(new Error("Month: choose the month whose report to download")); return; }
  const asked = month.value;
  csvButton.disabled = true;
  csvButton.textContent = "Preparing…";
  try {
    let res;
    try {
      res = await fetch(`/api/v1/reports/monthly.csv${qs({ month: asked })}`, { headers: { Authorization: `Bearer ${token() || ""}` } });
    } catch (err) { throw new Error(`no answer from the server (${err.message}): check the connection, then try again`); }
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail || `${res.status} ${res.statusText}`);
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: `foreshock-report-${asked}.csv` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10e3);  // revoked at once, a browser may not have read it yet
  } catch (err) {
    showError(new Error(`Download CSV of ${asked} failed: ${err.message}`));
  } finally {
    csvButton.disabled = false;
    csvButton.textContent = "Download CSV";
  }
});

days.addEventListener("change", refresh);
by.addEventListener("change", refresh);
month.addEventListener("change", refreshMonthly);
await Promise.all([refresh(), openMonthly()]);
live(debounce(() => { refresh(); refreshMonthly(); }, 2000));  // tickets opened or closed change the counts
