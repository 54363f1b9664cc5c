import { attachmentLinks } from "./attachments.js";
import { api, badge, can, el, fmtDuration, fmtTime, live, newest, page, showError, debounce, words } from "./common.js";
import { DISCIPLINES, eightD, shown } from "./eightd.js";

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
// On a phone the board shows one state's tickets at a time, chosen with these tabs and their counts (seven
// columns side by side showed one or two narrow ones, the rest a sideways swipe away); app.css hides them wider.
const states = el("div", { class: "states", id: "board-states", role: "tablist", "aria-label": "Tickets by state" });
const CHOSEN = "foreshock.board-state";  // the tab chosen, for this browser tab (a reload keeps it)
let chosen = sessionStorage.getItem(CHOSEN);
const detail = el("div", { class: "panel", id: "ticket-detail", hidden: true });
main.append(el("h1", {}, "Ticket board"), el("p", { class: "muted" },
  "SLA clocks count down to the response deadline until someone responds, then to the resolution deadline."),
  detail, states, board);

const EIGHT_D = Object.keys(DISCIPLINES);
// what a technician can name as the failure found (alerts/tickets.py FIELD_MODES), or "other: <description>"
const FIELD_MODES = ["outer_race", "inner_race", "ball", "cage", "bearing", "imbalance", "misalignment", "looseness",
  "lubrication"];
const other = (mode) => String(mode).replace(/^other:\s*/, "");

// What closure feedback says was found, in words (feedback.finding, docs/quality-loop.md "Closure feedback").
function finding(fb, warned) {
  if (!fb || !fb.verdict) return "–";
  const f = fb.finding || (fb.verdict === "false_alarm" ? "no_fault" : "as_warned");
  const mode = fb.actual_failure_mode;
  if (f === "as_warned") return `fault as warned (${words(mode || warned)})`;
  if (f === "different_fault") return `a different fault: ${words(mode)}`;
  return mode ? `no fault found (${other(mode)})` : "no fault found";
}
let openNumber = null;
// Only the panel asked for last is drawn: a live redraw of the ticket open before (asked before another
// ticket was tapped, answered after it) put that ticket back in the panel, under the other's address, and
// what was typed next went to the wrong ticket. Closing the panel also forgets a view still on its way.
const detailAsked = newest();
const boardAsked = newest();  // the same for the board: an older answer does not put older columns back

// A live event redraws the panel while a save is on its way (its own event, or a colleague's): the form
// on the page is then a new one, with what was typed. The save's answer emptied the old one, off the page,
// and left the text just saved in the field with its button enabled, ready to send it twice. The forms
// whose save is on its way are known by id: drawn again, their button waits too, and the answer empties
// the one on the page.
const sending = new Set();
const onPage = (f) => [...new Set([f, detail.querySelector(`form[id="${f.id}"]`)])].filter(Boolean);

function form(id, fields, label, onsubmit) {
  const f = el("form", { id, class: "filters" }, fields, el("button", { type: "submit", disabled: sending.has(id) }, label));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (sending.has(id)) return;
    sending.add(id);
    f.querySelector("button").disabled = true;
    try {
      await onsubmit(new FormData(f));
      for (const x of onPage(f)) x.reset();
      sending.delete(id);
      if (openNumber) await showDetail(openNumber);
      await refresh();
    } catch (err) { showError(err); } finally {
      sending.delete(id);
      for (const x of onPage(f)) x.querySelector("button").disabled = false;
    }
  });
  return f;
}

// Opened by a tap on a card or by the address: the panel sits above the board, out of sight on a phone
// (a tap on a card far down the board seemed to do nothing), so it is scrolled to when its top is not shown.
async function open(number) {
  try {
    const t = await showDetail(number);
    if (!t) return;  // another ticket was opened meanwhile
    if (STATUSES.includes(t.status)) choose(t.status);  // on a phone its state's tab (a link to it came from elsewhere)
    const top = detail.getBoundingClientRect().top;
    if (top < 0 || top > innerHeight - 80) detail.scrollIntoView({ block: "start" });
  } catch (err) { showError(err); }
}

// Closed, the ticket leaves the address too: a reload (or a phone's tab coming back) opened it again.
function closeDetail() {
  detail.hidden = true;
  openNumber = null;
  detailAsked();
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

async function showDetail(number) {
  openNumber = number;
  const mine = detailAsked();
  const t = await api(`/tickets/${encodeURIComponent(number)}`);
  if (!mine()) return null;
  const path = `/tickets/${encodeURIComponent(number)}`;
  const post = (sub, body, method = "POST") => api(`${path}${sub}`, { method, body });
  const d2 = t.eight_d.D2 && typeof t.eight_d.D2 === "object" ? t.eight_d.D2 : null;
  const keep = !detail.hidden && detail.dataset.ticket === number ? typed() : null;
  detail.hidden = false;
  detail.dataset.ticket = number;
  detail.replaceChildren(
    el("div", { class: "filters" }, el("h2", {}, `${t.number} · ${t.device_id || t.group_key} · ${words(t.failure_mode)}`), badge(t.grade),
      el("span", {}, `status ${words(t.status)}`), el("button", { class: "secondary", id: "close-detail", onclick: closeDetail }, "Close")),
    // moved from here too: on a phone its card is below the whole panel
    can(me, "service") ? el("div", { class: "actions", id: "detail-moves", "data-moves": t.number }, moves(t, "Move to ")) : "",
    d2 && d2.time_left_s && d2.time_left_s.estimate != null
      ? el("p", {}, `Time left when opened: ${fmtDuration(d2.time_left_s.estimate)} (${fmtDuration(d2.time_left_s.low)} – ${fmtDuration(d2.time_left_s.high)})`) : "",
    el("p", { class: "muted" }, `assignee ${t.assignee || "–"} · team ${t.team || "–"} · `,
      el("span", { id: "feedback-summary" }, `feedback: ${finding(t.feedback, t.failure_mode)}`)),
    el("p", { id: "sla" }, sla(t)),
    t.links.length ? el("p", { id: "links" }, "Linked: ", t.links.flatMap((l) => [el("a", { href: `#${l.ticket}`,
      onclick: () => showDetail(l.ticket).catch(showError) }, l.ticket),
      ` (${words(l.reason)}${l.direction === "from" ? ", from" : ""}) `])) : "",
    el("h3", {}, "8D"), el("ul", { id: "eight-d" }, eightD(t.eight_d)),
    el("h3", {}, "Comments"), el("ul", { id: "comments" }, t.comments.map((c) =>
      el("li", {}, el("span", { class: "muted" }, `${fmtTime(typeof c.at === "number" ? c.at * 1000 : c.at)} `), `${c.by}: ${c.text}`))),
    can(me, "service") ? el("div", {},
      form("assign-form", [el("label", {}, "Assignee", el("input", { name: "assignee", required: true }))], "Assign",
        (fd) => post("/assign", { assignee: fd.get("assignee") })),
      form("comment-form", [el("label", {}, "Comment", el("input", { name: "text", required: true, size: 50 }))], "Add comment",
        (fd) => post("/comments", { text: fd.get("text") })),
      eightDForm(t, post),
      feedbackForm(t, post),
      t.feedback_verdict ? form("withdraw-form", [el("label", {}, "Withdraw the feedback (recorded by mistake): why",
        el("input", { name: "reason", required: true, size: 40, placeholder: "e.g. recorded on the wrong ticket" }))],
        "Withdraw feedback", (fd) => {
          const reason = String(fd.get("reason")).trim();
          if (!reason) throw new Error("Withdraw feedback: say why it is withdrawn (the reason is empty); nothing was changed");
          return post("/feedback", { reason }, "DELETE");
        }) : "") : "",
    el("h3", {}, "History"), el("ul", { id: "audit" }, t.audit.map(historyLine)));
  restore(keep);
  if (t.source === "customer" || t.audit.some((e) => e.action === "complaint")) {
    if (!await customerPanel(number, post, mine)) return null;
  }
  restore(keep);
  return t;
}

// What is being typed into the open ticket's forms, and where the cursor is: the panel is redrawn on
// every live event (any ticket's, anyone's), which emptied a half-written comment or 8D text.
function typed() {
  const values = new Map();
  for (const f of detail.querySelectorAll("form[id]")) {
    for (const x of f.elements) {
      const initial = x.tagName === "SELECT" ? ([...x.options].find((o) => o.defaultSelected) || x.options[0] || {}).value
        : x.defaultValue;
      if (x.name && x.type !== "file" && x.value !== initial) values.set(`${f.id}/${x.name}`, x.value);
    }
  }
  const a = document.activeElement;
  const focus = a && a.form && detail.contains(a) ? { key: `${a.form.id}/${a.name}`, at: [a.selectionStart, a.selectionEnd] } : null;
  return { values, focus };
}

function restore(keep) {
  if (!keep) return;
  for (const f of detail.querySelectorAll("form[id]")) {
    for (const x of f.elements) {
      if (!keep.values.has(`${f.id}/${x.name}`)) continue;
      x.value = keep.values.get(`${f.id}/${x.name}`);
      if (x.tagName === "SELECT") x.dispatchEvent(new Event("change"));  // what depends on it follows (8D's note)
    }
  }
  if (keep.focus) {
    const [id, name] = keep.focus.key.split("/");
    const x = detail.querySelector(`form[id="${id}"]`)?.elements[name];
    if (x && document.activeElement !== x) {
      x.focus();
      if (typeof x.setSelectionRange === "function" && keep.focus.at[0] != null) try { x.setSelectionRange(...keep.focus.at); } catch (_) { /* not a text field */ }
    }
  }
}

// Writing a discipline: the first one not filled in is offered (D2, which Foreshock fills in when it
// opens the ticket, was preselected and replaced by whatever was typed, even blanks); writing over a
// filled one says so.
function eightDForm(t, post) {
  const filled = (k) => { const v = t.eight_d[k];
    return v !== undefined && v !== null && (typeof v === "object" ? Object.keys(v).length > 0 : String(v).trim() !== ""); };
  const first = EIGHT_D.find((k) => !filled(k)) || EIGHT_D[EIGHT_D.length - 1];
  const select = el("select", { name: "d" }, EIGHT_D.map((k) => el("option", { value: k, selected: k === first },
    `${k} ${DISCIPLINES[k]}${filled(k) ? " (filled in)" : ""}`)));
  const note = el("span", { class: "muted", id: "eightd-replaces" });
  const say = () => { note.textContent = filled(select.value) ? `replaces what ${select.value} says now (the history keeps it)` : ""; };
  select.addEventListener("change", say);
  say();
  return form("eightd-form", [el("label", {}, "Discipline", select),
    el("label", {}, "Content", el("input", { name: "content", required: true, size: 50 })), note], "Save 8D",
  (fd) => {
    const content = String(fd.get("content")).trim();
    if (!content) throw new Error(`8D ${fd.get("d")}: the content is empty (only spaces); nothing was saved`);
    return post(`/8d/${fd.get("d")}`, { content }, "PUT");
  });
}

// Closure feedback as three explicit findings (docs/quality-loop.md "Closure feedback"): the fault warned
// of, a different fault (which one), or no fault (what it was instead). The API's verdict and actual
// failure mode follow from the choice; nobody has to type "false alarm, found: inner race".
function feedbackForm(t, post) {
  const choice = el("select", { name: "finding" },
    el("option", { value: "as_warned" }, `the fault warned of (${words(t.failure_mode)})`),
    el("option", { value: "different_fault" }, "a different fault"),
    el("option", { value: "no_fault" }, "no fault of the machine"));
  const mode = el("select", { name: "mode" }, FIELD_MODES.filter((m) => m !== t.failure_mode)
    .map((m) => el("option", { value: m }, words(m))), el("option", { value: "other" }, "another (describe it)"));
  const what = el("input", { name: "what", size: 30 });
  const modeLabel = el("label", {}, "Which fault", mode);
  const whatText = el("span", {});
  const whatLabel = el("label", {}, whatText, what);
  const follow = () => {
    const f = choice.value;
    // not the hidden attribute: a label's display:flex (app.css) would show it anyway
    modeLabel.style.display = f === "different_fault" ? "" : "none";
    whatLabel.style.display = f === "as_warned" || (f === "different_fault" && mode.value !== "other") ? "none" : "";
    whatText.textContent = f === "no_fault" ? "What was it (optional)" : "Which fault was it";
    what.placeholder = f === "no_fault" ? "e.g. sensor loose" : "e.g. seal leak";
    what.required = f === "different_fault" && mode.value === "other";
  };
  choice.addEventListener("change", follow);
  mode.addEventListener("change", follow);
  follow();
  return form("feedback-form", [el("label", {}, "Found on site", choice), modeLabel, whatLabel,
    el("label", {}, "Cause", el("input", { name: "cause" })), el("label", {}, "Action", el("input", { name: "action" }))],
  "Record closure feedback", (fd) => {
    const f = fd.get("finding"), text = String(fd.get("what") || "").trim();
    let verdict = "confirmed", actual = null;
    if (f === "different_fault") {
      actual = fd.get("mode") === "other" ? `other: ${text}` : fd.get("mode");
      if (actual === "other: ") throw new Error("Feedback: say which fault was found (the description is empty); nothing was recorded");
    } else if (f === "no_fault") {
      verdict = "false_alarm";
      actual = text ? `other: ${text}` : null;
    }
    return post("/feedback", { verdict, actual_failure_mode: actual, cause: fd.get("cause"), action: fd.get("action") });
  });
}

const factorWords = (x) => (x === undefined || x === null ? "" : ` · detector thresholds ${x > 1 ? `raised ×${x}` : "unchanged (×1)"}`);

// one line of the history; a discipline written over shows what it replaced (folded); feedback shows
// what was found, what it replaced, the unit's threshold factor after it, and a withdrawal its reason
function historyLine(e) {
  const d = e.action === "8d_updated" && e.detail ? e.detail.discipline : null;
  const x = e.detail || {};
  let says = "";
  if (e.action === "feedback") {
    says = `: ${finding(x, null)}${x.cause ? ` · cause: ${x.cause}` : ""}${x.field_action ? ` · action: ${x.field_action}` : ""}`
      + (x.before ? ` · replaced: ${finding(x.before, null)} (${x.before.by || "–"})` : "") + factorWords(x.threshold_factor);
  } else if (e.action === "feedback_withdrawn") {
    says = `: ${finding(x.before, null)} · reason: ${x.reason || "–"}${factorWords(x.threshold_factor)}`;
  }
  return el("li", { "data-action": e.action }, el("span", { class: "muted" }, `${fmtTime(e.at)} `),
    `${e.by}: ${words(e.action)}${d ? ` ${d}` : ""}${e.to ? " → " + words(e.to) : ""}${says}`,
    d && e.detail.before !== undefined
      ? el("details", { class: "replaced" }, el("summary", {}, `what ${d} said before`), shown(d, e.detail.before)) : "");
}

// Complaints on this ticket and the customer communication log (docs/complaints.md).
async function customerPanel(number, post, mine) {
  const c = await api(`/tickets/${encodeURIComponent(number)}/communication`);
  if (!mine()) return false;
  const panel = el("div", { id: "customer" }, el("h3", {}, "Customer"),
    el("ul", { id: "ticket-complaints" }, c.complaints.map((x) => el("li", {},
      `${x.customer} (${words(x.channel)}, asks for ${words(x.request)}): ${x.description.slice(0, 200)}`,
      x.preceded_by_warning ? ` · Foreshock warned ${fmtDuration(x.warning_lead_s)} before` : " · no warning before",
      // not tied to the unit's customer: its sender hears only that it was received (docs/complaints.md)
      x.flagged ? el("div", { class: "error flag" }, `Flagged: ${x.flag_reason || "not tied to the unit's customer"}; `
        + "this contact gets no messages about the ticket") : "",
      attachmentLinks(x.attachments)))),
    c.customer_followup ? el("p", { id: "followup" }, `Follow-up: ${c.customer_followup.solved ? "solved" : "NOT solved"}, `
      + `satisfaction ${c.customer_followup.satisfaction ?? "–"}`) : "",
    el("ul", { id: "messages" }, c.messages.map((m) => el("li", {},
      el("span", { class: "muted" }, `${fmtTime(m.at)} `),
      `${m.direction === "in" ? "from customer" : `to ${m.address || "–"}`}: ${words(m.kind)} (${words(m.status)})${m.error ? " – " + m.error : ""}`))),
    can(me, "service") ? el("div", {},
      form("message-form", [el("label", {}, "Message", el("select", { name: "kind" },
          ["progress", "answer", "acknowledgement", "follow_up"].map((k) => el("option", { value: k }, words(k))))),
        el("label", {}, "Text", el("input", { name: "text", size: 50 }))], "Send to customer",
        (fd) => post("/messages", { kind: fd.get("kind"), text: fd.get("text") || null })),
      form("followup-form", [el("label", {}, "Solved?", el("select", { name: "solved" },
          el("option", { value: "true" }, "yes"), el("option", { value: "false" }, "no"))),
        el("label", {}, "Satisfaction (1–5)", el("input", { name: "satisfaction", type: "number", min: 1, max: 5 })),
        el("label", {}, "Comment", el("input", { name: "comment" }))], "Record follow-up answer",
        (fd) => post("/follow-up", { solved: fd.get("solved") === "true", comment: fd.get("comment") || "",
          satisfaction: fd.get("satisfaction") ? Number(fd.get("satisfaction")) : null }))) : "");
  detail.append(panel);
  return true;
}

// the clocks and escalation of one ticket, in words (the card's countdown is the short form)
function sla(t) {
  const at = (iso) => iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "–";
  return [`respond by ${at(t.response_due)}`, t.responded_at ? ` (responded ${at(t.responded_at)})` : "",
    t.response_breached ? el("span", { class: "clock late" }, " response SLA breached") : "",
    ` · resolve by ${at(t.resolution_due)}`,
    t.resolution_breached ? el("span", { class: "clock late" }, " resolution SLA breached") : "",
    t.escalation_level ? ` · escalation level ${t.escalation_level}` : "",
    t.repeat_failure ? el("strong", {}, " · repeat failure") : ""];
}

// red once overdue, orange within the hour (the card's class follows the countdown: a clock that ran out
// while the board was open kept counting "overdue" in black)
const clockClass = (left) => (left < 0 ? "clock late" : left < 3600 ? "clock soon" : "clock");

function clock(t) {
  const now = Date.now() / 1000;
  if (!t.is_open) return el("span", { class: "clock" }, "closed");
  const responding = !t.responded_at;
  const due = Date.parse(responding ? t.response_due : t.resolution_due) / 1000;
  const left = due - now;
  return el("span", { class: clockClass(left), "data-due": due },
    `${responding ? "respond" : "resolve"} ${left < 0 ? "overdue " + fmtDuration(-left) : "in " + fmtDuration(left)}`);
}

async function move(number, to, btn) {
  btn.disabled = true;
  try {
    await api(`/tickets/${encodeURIComponent(number)}/move`, { method: "POST", body: { to } });
    if (closing?.number === number) closing = null;
    await refresh();
    if (openNumber === number) await showDetail(number);
  } catch (err) { showError(err); btn.disabled = false; }
}

// Closing ends the quality loop (verify → close), and was one click on a card, where the next state's button
// sits beside it: → closed asks first, in place, as the other actions that cannot be taken back do (the unit
// page's relearn: a second step with Confirm and Cancel). The question stays through the live redraws of the
// board and the panel (any colleague's change redraws them) until answered, on the card or in the panel.
let closing = null;  // {number} of the ticket whose closing is being confirmed

function moves(t, label = "") {
  if (closing?.number === t.number) {
    if (t.is_open) return closeQuestion(t);
    closing = null;  // closed meanwhile (a colleague, the command line): nothing left to ask
  }
  return [label, ...NEXT[t.status].map((to) => el("button", { class: "secondary move", "data-to": to,
    onclick: (ev) => (to === "closed" ? ask(t) : move(t.number, to, ev.target)) }, `→ ${words(to)}${to === "closed" ? "…" : ""}`))];
}

function closeQuestion(t) {
  // closed from a state other than verifying, and not a false alarm: the monthly report counts it as unverified
  const unverified = t.status !== "verifying" && t.feedback_verdict !== "false_alarm";
  return [el("span", { class: "close-question", role: "alert" }, el("strong", {}, `Close ${t.number}?`),
    " Closing ends its quality loop", unverified ? "; it has not been verified (the monthly report counts it as closed unverified)." : "."),
  el("button", { type: "button", class: "confirm-close", onclick: (ev) => move(t.number, "closed", ev.currentTarget) }, "Close ticket"),
  el("button", { type: "button", class: "secondary cancel-close", onclick: () => { closing = null; redrawMoves(t); } }, "Cancel")];
}

function ask(t) {
  closing = { number: t.number };
  redrawMoves(t);
  const yes = document.querySelector(`[data-moves="${CSS.escape(t.number)}"] .confirm-close`);
  if (yes) yes.focus({ preventScroll: true });
}

// the ticket's moves on its card and in the panel, drawn again as they are now (asking, or the buttons)
function redrawMoves(t) {
  for (const box of document.querySelectorAll(`[data-moves="${CSS.escape(t.number)}"]`)) {
    box.replaceChildren(...moves(t, box.id === "detail-moves" ? "Move to " : ""));
  }
}

function card(t) {
  const actions = can(me, "service") ? el("div", { class: "actions", "data-moves": t.number }, moves(t)) : "";
  return el("div", { class: "ticket", id: t.number, "data-ticket": t.number, "data-status": t.status },
    el("div", {}, el("a", { class: "num", href: `#${t.number}`, onclick: () => open(t.number) }, t.number),
      " ", badge(t.grade)),
    el("div", {}, t.device_id ? el("a", { href: `/ui/unit?id=${encodeURIComponent(t.device_id)}` }, t.device_id) : t.group_key,
      " · ", words(t.failure_mode)),
    el("div", { class: "meta" }, t.assignee ? `assigned to ${t.assignee}` : "unassigned"),
    el("div", {}, clock(t)), actions);
}

// A phone's tab: its state's column is the one shown (app.css); the counts stay as they are.
function choose(s) {
  chosen = s;
  sessionStorage.setItem(CHOSEN, s);
  for (const b of states.children) b.setAttribute("aria-selected", String(b.dataset.state === s));
  for (const c of board.querySelectorAll(".column")) c.classList.toggle("chosen", c.dataset.column === s);
}

// Every open ticket (up to 500), and only the newest closed ones: closed tickets pile up over the
// years and must not push an old open ticket off the board.
const OPEN_LIMIT = 500, CLOSED_LIMIT = 50;

async function refresh() {
  const mine = boardAsked();
  try {
    const [open, closed] = await Promise.all([api(`/tickets?open=true&limit=${OPEN_LIMIT}`),
      api(`/tickets?open=false&limit=${CLOSED_LIMIT}`)]);
    if (!mine()) return;
    const all = [...open.data, ...closed.data];
    const count = (s) => (s === "closed" ? closed.count : all.filter((t) => t.status === s).length);
    // the tab chosen before, or the first open state with tickets
    if (!STATUSES.includes(chosen)) chosen = STATUSES.find((s) => s !== "closed" && count(s) > 0) || STATUSES[0];
    states.replaceChildren(...STATUSES.map((s) => el("button", { type: "button", role: "tab", class: "state",
      "data-state": s, "aria-selected": String(s === chosen), "aria-controls": `column-${s}`, onclick: () => choose(s) },
    words(s), " ", el("span", { class: "count" }, count(s)))));
    board.replaceChildren(...STATUSES.map((s) => {
      const items = all.filter((t) => t.status === s);
      const title = s === "closed" && closed.count > items.length
        ? `closed (newest ${items.length} of ${closed.count})` : `${words(s)} (${items.length})`;
      return el("div", { class: s === chosen ? "column chosen" : "column", id: `column-${s}`, "data-column": s,
        role: "tabpanel" }, el("h3", {}, title), items.map(card),
      items.length ? "" : el("p", { class: "muted empty" }, "No tickets in this state."));
    }));
    if (open.count > open.data.length) {
      board.prepend(el("p", { class: "error", id: "board-truncated" },
        `showing the ${open.data.length} newest of ${open.count} open tickets: use the API to list the rest`));
    }
  } catch (err) { showError(err); }
}

await refresh();
const openFromHash = () => {
  const number = decodeURIComponent(location.hash.slice(1));
  if (number && number !== openNumber) open(number);
};
openFromHash();
window.addEventListener("hashchange", openFromHash);  // browser back/forward, or #PF… typed
setInterval(() => { for (const c of document.querySelectorAll(".clock[data-due]")) {
  const left = Number(c.dataset.due) - Date.now() / 1000;
  c.textContent = c.textContent.replace(/(in|overdue) .*/, left < 0 ? `overdue ${fmtDuration(-left)}` : `in ${fmtDuration(left)}`);
  c.className = clockClass(left);
} }, 1000);
live(debounce(async () => { await refresh(); if (openNumber) await showDetail(openNumber).catch(showError); }, 500));
