import { api, badge, can, el, fmtTime, labelCells, live, newest, page, qs, showError, debounce, words } from "./common.js";

const main = document.getElementById("main");
const LIMIT = 200;
const me = await page("alerts");
const status = el("select", { id: "f-status" }, el("option", { value: "open" }, "open"),
  el("option", { value: "cleared" }, "cleared"), el("option", { value: "" }, "all"));
const unacked = el("input", { type: "checkbox", id: "f-unacked" });
const tbody = el("tbody", { id: "alerts" });
const truncated = el("div", { id: "alerts-truncated" });
main.append(el("h1", {}, "Alert inbox"),
  el("div", { class: "filters" }, el("label", {}, "Status", status), el("label", {}, "Unacknowledged only", unacked)), truncated,
  el("table", { class: "stack" }, el("thead", {}, el("tr", {}, ["Raised", "Unit", "Severity", "Grade", "Failure mode", "Ticket",
    "Acknowledged", ""].map((h) => el("th", {}, h)))), tbody));

async function ack(id, btn) {
  btn.disabled = true;
  try { await api(`/alerts/${id}/ack`, { method: "POST" }); await refresh(); } catch (err) { showError(err); btn.disabled = false; }
}

const current = newest();  // the filters change while a live refresh is under way

async function refresh() {
  const mine = current();
  try {
    const res = await api(`/alerts${qs({ status: status.value, acknowledged: unacked.checked ? "false" : "", limit: LIMIT })}`);
    if (!mine()) return;
    tbody.replaceChildren(...res.data.map((a) => el("tr", { "data-alert": a.id, "data-unit": a.device_id },
      el("td", {}, fmtTime(a.raised_at)),
      el("td", {}, el("a", { href: `/ui/unit?id=${encodeURIComponent(a.device_id)}` }, a.device_id)),
      el("td", {}, badge(a.severity)), el("td", {}, badge(a.grade)), el("td", {}, words(a.failure_mode)),
      el("td", {}, a.ticket ? el("a", { href: `/ui/tickets#${a.ticket}` }, a.ticket) : "–"),
      el("td", { class: "acked" }, a.acknowledged_at ? `${a.acknowledged_by}, ${fmtTime(a.acknowledged_at)}` : "no"),
      el("td", {}, !a.acknowledged_at && can(me, "service")
        ? el("button", { class: "ack", onclick: (ev) => ack(a.id, ev.target) }, "Acknowledge") : ""))));
    if (!res.data.length) tbody.append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No alerts.")));
    labelCells(tbody.closest("table"));
    // the newest 200 are listed: say so when there are more (they used to be left out silently)
    truncated.replaceChildren(...(res.count > res.data.length
      ? [el("p", { class: "error" }, `showing the ${res.data.length} newest of ${res.count} alerts: acknowledge these, `
          + "or use the API (GET /api/v1/alerts, limit and offset) to list the rest")] : []));
  } catch (err) { showError(err); }
}

status.addEventListener("change", refresh);
unacked.addEventListener("change", refresh);
await refresh();
live(debounce(refresh, 500));
