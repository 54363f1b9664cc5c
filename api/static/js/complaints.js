// Complaints: the form a service agent fills in during a call, and the list of complaints.
import { attachmentLinks, readFiles } from "./attachments.js";
import { api, can, debounce, el, fmtDuration, fmtTime, live, newest, page, qs, showError, words } from "./common.js";

const main = document.getElementById("main");
const me = await page("complaints");
const input = (name, attrs = {}) => el("input", { name, id: `c-${name}`, ...attrs });
const select = (name, options) => el("select", { name, id: `c-${name}` }, options.map((o) => el("option", { value: o }, words(o))));
// now, in the browser's time zone, as a datetime-local field takes it
const localNow = () => new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
const form = el("form", { id: "complaint-form", class: "panel" },
  el("h2", {}, "Register a complaint"),
  el("div", { class: "filters" },
    el("label", {}, "Channel", select("channel", ["phone", "dashboard", "email", "letter", "web_form"])),
    el("label", {}, "Customer", input("customer", { placeholder: "from the unit when empty", size: 24 })),
    el("label", {}, "Contact name", input("contact_name")),
    el("label", {}, "Contact email", input("contact_email", { type: "email" })),
    el("label", {}, "Contact phone", input("contact_phone", { type: "tel" }))),
  el("div", { class: "filters" },
    el("label", {}, "Unit serial", input("device_id", { placeholder: "or model and site" })),
    el("label", {}, "Model", input("model")), el("label", {}, "Site", input("site")),
    el("label", {}, "When (local time)", input("occurred_at", { type: "datetime-local", value: localNow(), required: true })),
    el("label", {}, "Request", select("request", ["repair", "replacement", "refund", "advice"]))),
  el("label", {}, "What happened", el("textarea", { name: "description", id: "c-description", rows: 3, cols: 80, required: true })),
  el("div", { class: "filters" }, el("label", {}, "Photos, logs, documents", input("files", { type: "file", multiple: true }))),
  el("div", { class: "filters" }, el("button", { type: "submit", id: "c-submit" }, "Register")),
  el("div", { id: "c-result" }));
// "When" is now until the agent changes it, and now again for the next call: it kept the time the page was
// opened (a page open all day registered an afternoon's calls at 08:02) and a changed time stayed for the next call
const when = form.elements.occurred_at;
const whenNow = () => { const n = localNow(); when.defaultValue = n; when.value = n; };
setInterval(() => { if (when.value === when.defaultValue) whenNow(); }, 20e3);
const rows = el("tbody", { id: "complaints" });
// the list pages through every complaint, newest first (it used to stop at the newest 100, silently)
const PAGE = 100;
let offset = 0;
const counter = el("span", { class: "muted", id: "c-count" });
const prev = el("button", { class: "secondary", id: "c-prev", onclick: () => { offset = Math.max(0, offset - PAGE); refresh(); } }, "← Newer");
const next = el("button", { class: "secondary", id: "c-next", onclick: () => { offset += PAGE; refresh(); } }, "Older →");
// a viewer reads the list; registering needs a service token (the form was shown with a dead button)
main.append(el("h1", {}, "Complaints"), can(me, "service") ? form
  : el("p", { class: "muted", id: "c-readonly" }, "Registering a complaint needs a service token; you can read the list."),
  el("div", { class: "panel" }, el("h2", {}, "Received"), el("table", {},
    el("thead", {}, el("tr", {}, ["Received", "Customer", "Unit", "Request", "Ticket", "Warned before", "Attachments"].map((h) => el("th", {}, h)))), rows),
    el("div", { class: "filters pager" }, prev, counter, next)));

async function body() {
  if (when.value === when.defaultValue) whenNow();
  const v = (n) => form.elements[n].value.trim() || null;
  const contact = { name: v("contact_name"), email: v("contact_email"), phone: v("contact_phone") };
  for (const k of Object.keys(contact)) if (contact[k] === null) delete contact[k];
  const out = { channel: v("channel"), customer: v("customer"), contact, device_id: v("device_id"), model: v("model"),
    site: v("site"), description: v("description") || "", request: v("request"),
    occurred_at: new Date(form.elements.occurred_at.value).toISOString() };
  for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
  const files = await readFiles(form.elements.files);
  if (files.length) out.attachments = files;
  return out;
}

// One complaint per click: the button waits for the answer (on a slow link a second click, or Enter, registered
// the same call twice, each joining the ticket).
const submit = form.querySelector("#c-submit");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (submit.disabled) return;
  const result = document.getElementById("c-result");
  submit.disabled = true;
  submit.textContent = "Registering…";
  try {
    const c = await api("/complaints", { method: "POST", body: await body() });
    const how = c.joined ? "joined the open ticket" : "opened ticket";
    const warned = c.preceded_by_warning ? ` · Foreshock warned ${fmtDuration(c.warning_lead_s)} before` : "";
    result.replaceChildren(el("p", { class: "ok", id: "c-ok" }, `Complaint ${c.id} ${how} `,
      el("a", { href: `/ui/tickets#${encodeURIComponent(c.ticket)}`, id: "c-ticket" }, c.ticket), warned));
    form.elements.description.value = "";
    form.elements.files.value = "";
    whenNow();
    offset = 0;  // the new complaint is the newest: show the first page
    await refresh();
  } catch (err) {
    result.replaceChildren(el("div", { class: "error", role: "alert", id: "c-error" }, err.message));
  } finally {
    submit.disabled = false;
    submit.textContent = "Register";
  }
});

const current = newest();  // a page turned while a live refresh is under way

async function refresh() {
  const mine = current();
  try {
    const list = await api(`/complaints${qs({ limit: PAGE, offset })}`);
    if (!mine()) return;
    // the last page emptied (or the list shrank): show the last page there is
    if (offset > 0 && offset >= list.count) { offset = Math.max(0, Math.floor((list.count - 1) / PAGE) * PAGE); return refresh(); }
    const n = list.count.toLocaleString("en");
    counter.textContent = list.count <= PAGE && offset === 0 ? `${n} complaint${list.count === 1 ? "" : "s"}`
      : `complaints ${(offset + 1).toLocaleString("en")}–${(offset + list.data.length).toLocaleString("en")} of ${n}, newest first`;
    prev.disabled = offset === 0;
    next.disabled = offset + list.data.length >= list.count;
    rows.replaceChildren(...list.data.map((c) => el("tr", { "data-complaint": c.id },
      el("td", {}, fmtTime(c.received_at)), el("td", {}, c.customer), el("td", {}, c.device_id || `${c.model} @ ${c.site}`),
      el("td", {}, words(c.request)), el("td", {}, el("a", { href: `/ui/tickets#${encodeURIComponent(c.ticket)}` }, c.ticket)),
      el("td", {}, c.preceded_by_warning ? fmtDuration(c.warning_lead_s) : "no"),
      el("td", {}, attachmentLinks(c.attachments)))));
    if (!list.data.length) rows.append(el("tr", {}, el("td", { colspan: 7, class: "muted", id: "no-complaints" }, "No complaints yet.")));
  } catch (err) { showError(err); }
}
await refresh();
live(debounce(refresh, 1000));  // a complaint registered elsewhere opens or joins a ticket
