// Corrective actions: their scope, date and the verdict of the data (engineers record and verify).
import { api, can, el, fmtTime, labelCells, page, showError, words } from "./common.js";

const main = document.getElementById("main");
const me = await page("corrective");
const input = (name, attrs = {}) => el("input", { name, id: `a-${name}`, ...attrs });
const form = el("form", { id: "action-form", class: "panel" }, el("h2", {}, "Record a corrective action"),
  el("div", { class: "filters" },
    el("label", {}, "Title", input("title", { required: true, size: 40 })),
    el("label", {}, "Applied on", input("applied_at", { type: "date", required: true })),
    el("label", {}, "Failure modes (comma)", input("failure_modes", { placeholder: "all" })),
    el("label", {}, "Ticket", input("ticket", { placeholder: "PF…" }))),
  el("div", { class: "filters" }, ["model", "batch", "firmware", "serial_from", "serial_to"]
    .map((k) => el("label", {}, `Scope: ${words(k)}`, input(k)))),
  el("button", { type: "submit", id: "a-submit" }, "Record"));
const rows = el("tbody", { id: "actions" });
main.append(el("h1", {}, "Corrective actions"), can(me, "engineer") ? form : "",
  el("div", { class: "panel" }, el("table", { class: "stack" }, el("thead", {}, el("tr", {},
    ["Applied", "Action", "Scope", "Verdict", "Rate ratio (95 %)", "Statement", ""].map((h) => el("th", {}, h)))), rows)));

// One action per click: the button waits for the answer (a second click on a slow link recorded it twice)
const submit = form.querySelector("#a-submit");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (submit.disabled) return;
  const v = (n) => form.elements[n].value.trim();
  const scope = {};
  for (const k of ["model", "batch", "firmware", "serial_from", "serial_to"]) if (v(k)) scope[k] = v(k);
  submit.disabled = true;
  try {
    await api("/corrective-actions", { method: "POST", body: { title: v("title"), scope,
      applied_at: new Date(`${v("applied_at")}T00:00:00Z`).toISOString(), ticket: v("ticket") || null,
      failure_modes: v("failure_modes") ? v("failure_modes").split(",").map((s) => s.trim()).filter(Boolean) : [] } });
    form.reset();
    await refresh();
  } catch (err) { showError(err); } finally { submit.disabled = false; }
});

async function verify(id, btn) {
  btn.disabled = true;
  try { await api(`/corrective-actions/${id}/verify`, { method: "POST" }); await refresh(); }
  catch (err) { showError(err); btn.disabled = false; }
}

async function refresh() {
  try {
    const list = await api("/corrective-actions");
    rows.replaceChildren(...list.data.map((a) => {
      const v = a.verdict || {};
      // rounded like the statement beside it (the interval showed "0.019–473.0578")
      const num = (x) => (x === undefined || x === null || !isFinite(x) ? "–" : Number(x).toFixed(2));
      const ci = v.ratio === undefined || v.ratio === null ? "–" : `${num(v.ratio)}× (${num(v.ci_low)}–${num(v.ci_high)})`;
      return el("tr", { "data-action": a.id }, el("td", {}, fmtTime(a.applied_at)), el("td", {}, a.title),
        // which failures the verdict counts, and the ticket it answers: recorded with the action, not shown
        // (an action for outer race failures read like one for every failure of the batch)
        el("td", { class: "scope" }, Object.entries(a.scope).map(([k, x]) => `${words(k)} ${x}`).join(", "),
          ` · ${a.failure_modes?.length ? `failure modes: ${a.failure_modes.map(words).join(", ")}` : "every failure mode"}`,
          a.ticket ? [" · ticket ", el("a", { href: `/ui/tickets#${encodeURIComponent(a.ticket)}` }, a.ticket)] : ""),
        el("td", { class: "verdict" }, v.verdict ? words(v.verdict) : "not verified"), el("td", {}, ci), el("td", {}, v.statement || ""),
        el("td", {}, can(me, "engineer") ? el("button", { class: "secondary", onclick: (ev) => verify(a.id, ev.currentTarget) }, "Verify") : ""));
    }));
    if (!list.data.length) {
      rows.append(el("tr", {}, el("td", { colspan: 7, class: "muted", id: "no-actions" }, "No corrective actions recorded yet.")));
    }
    labelCells(rows.closest("table"));
  } catch (err) { showError(err); }
}
await refresh();
