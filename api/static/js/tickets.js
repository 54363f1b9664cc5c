import { api, badge, can, el, fmtDuration, live, page, showError, debounce } from "./common.js";

// The ticket state machine (alerts/tickets.py); the server checks it again.
const STATUSES = ["received", "triaged", "investigating", "action_taken", "verifying", "closed", "reopened"];
const NEXT = {
  received: ["triaged", "closed"], triaged: ["investigating", "closed"], investigating: ["action_taken", "closed"],
  action_taken: ["verifying", "closed"], verifying: ["closed", "investigating"], closed: ["reopened"],
  reopened: ["triaged", "investigating", "closed"],
};
const main = document.getElementById("main");
const me = await page("tickets");
const board = el("div", { class: "board", id: "board" });
main.append(el("h1", {}, "Ticket board"), el("p", { class: "muted" },
  "SLA clocks count down to the response deadline until someone responds, then to the resolution deadline."), board);

function clock(t) {
  const now = Date.now() / 1000;
  if (!t.is_open) return el("span", { class: "clock" }, "closed");
  const responding = !t.responded_at;
  const due = Date.parse(responding ? t.response_due : t.resolution_due) / 1000;
  const left = due - now;
  const cls = left < 0 ? "clock late" : left < 3600 ? "clock soon" : "clock";
  return el("span", { class: cls, "data-due": due },
    `${responding ? "respond" : "resolve"} ${left < 0 ? "overdue " + fmtDuration(-left) : "in " + fmtDuration(left)}`);
}

async function move(number, to, btn) {
  btn.disabled = true;
  try { await api(`/tickets/${encodeURIComponent(number)}/move`, { method: "POST", body: { to } }); await refresh(); }
  catch (err) { showError(err); btn.disabled = false; }
}

function card(t) {
  const actions = can(me, "service")
    ? el("div", { class: "actions" }, NEXT[t.status].map((to) =>
        el("button", { class: "secondary move", "data-to": to, onclick: (ev) => move(t.number, to, ev.target) }, `→ ${to}`)))
    : "";
  return el("div", { class: "ticket", id: t.number, "data-ticket": t.number, "data-status": t.status },
    el("div", {}, el("span", { class: "num" }, t.number), " ", badge(t.grade)),
    el("div", {}, t.device_id ? el("a", { href: `/ui/unit?id=${encodeURIComponent(t.device_id)}` }, t.device_id) : t.group_key,
      " · ", t.failure_mode),
    el("div", { class: "meta" }, t.assignee ? `assigned to ${t.assignee}` : "unassigned"),
    el("div", {}, clock(t)), actions);
}

async function refresh() {
  try {
    const res = await api("/tickets?limit=500");
    board.replaceChildren(...STATUSES.map((s) => {
      const items = res.data.filter((t) => t.status === s);
      return el("div", { class: "column", "data-column": s }, el("h3", {}, `${s.replace("_", " ")} (${items.length})`),
        items.map(card));
    }));
  } catch (err) { showError(err); }
}

await refresh();
setInterval(() => { for (const c of document.querySelectorAll(".clock[data-due]")) {
  const left = Number(c.dataset.due) - Date.now() / 1000;
  c.textContent = c.textContent.replace(/(in|overdue) .*/, left < 0 ? `overdue ${fmtDuration(-left)}` : `in ${fmtDuration(left)}`);
} }, 1000);
live(debounce(refresh, 500));
