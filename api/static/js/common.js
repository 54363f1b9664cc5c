// Shared by every page: the token, API calls, navigation, live updates and formatting.
const KEY = "foreshock.token";

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(t) { sessionStorage.setItem(KEY, t.trim()); }
export function logout() { sessionStorage.removeItem(KEY); location.href = "/ui/login"; }
// a token refused (revoked, expired): log in again and come back to this page
function toLogin() {
  sessionStorage.removeItem(KEY);
  const here = location.pathname + location.search + location.hash;
  location.href = here === "/ui/" || here === "/" ? "/ui/login" : `/ui/login?next=${encodeURIComponent(here)}`;
}

// Whether a form on the page holds what someone typed or chose and has not saved (a field changed from
// what the page drew, or a file chosen).
function unsaved() {
  for (const f of document.querySelectorAll("main form")) {
    for (const x of f.elements) {
      if (!x.name || x.tagName === "BUTTON" || x.tagName === "FIELDSET") continue;
      if (x.type === "checkbox" || x.type === "radio" ? x.checked !== x.defaultChecked
        : x.type === "file" ? x.files.length > 0
          : x.tagName === "SELECT" ? x.value !== ([...x.options].find((o) => o.defaultSelected) || x.options[0] || {}).value
            : x.value !== x.defaultValue) return true;
    }
  }
  return false;
}

// A token that expires (or is revoked) while someone types a complaint during a call or an 8D root cause:
// the page went to the login page at once (the stream's end, or the click on Save) and what was typed was
// lost. Then the page stays, says so at its top and takes a new token there; saving again then works. A
// page with nothing typed goes to the login page and back as before. Resolves once logged in again.
let relogging = null;
function relogin(detail) {
  if (!unsaved()) { toLogin(); return new Promise(() => {}); }
  if (relogging) return relogging.done;
  // where the keyboard was goes back there once logged in (the same field of a form drawn again meanwhile)
  const before = document.activeElement;
  const again = before?.form?.id && before.name ? `form[id="${before.form.id}"] [name="${before.name}"]` : null;
  // the refused token stays until another is given: what the page asks meanwhile is refused with its reason
  let resolve;
  const done = new Promise((r) => { resolve = r; });
  const input = el("input", { id: "relogin-token", type: "password", autocomplete: "off", placeholder: "fs_…", required: true });
  const msg = el("span", { id: "relogin-error", role: "status" });
  const button = el("button", { type: "submit", id: "relogin-button" }, "Log in again");
  const box = el("form", { class: "error relogin", role: "alert", id: "relogin" },
    el("p", {}, el("strong", {}, "Logged out: "), `${detail || "your token was refused"}. `,
      "What you typed is still on this page: log in again here, then save it."),
    el("div", { class: "filters" }, el("label", { for: "relogin-token" }, "Token", input), button,
      el("a", { href: "#", id: "relogin-leave", onclick: (e) => { e.preventDefault(); toLogin(); } },
        "or go to the login page (what you typed is lost)")), msg);
  box.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.textContent = "";
    button.disabled = true;
    try {
      const res = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${input.value.trim()}` } });
      if (!res.ok) {
        msg.textContent = `Login failed: ${(await res.json().catch(() => ({}))).detail || res.statusText}`;
        return;
      }
      const me = await res.json();
      setToken(input.value);
      const who = document.querySelector("header .who");
      if (who && who.firstChild && who.firstChild.nodeType === Node.TEXT_NODE) who.firstChild.textContent = `${me.name} (${me.role}) `;
      box.remove();
      relogging = null;
      const back = before?.isConnected && before !== document.body ? before : again && document.querySelector(again);
      if (back) back.focus({ preventScroll: true });
      resolve();
    } catch (err) {
      msg.textContent = `Login failed: the server cannot be reached (${err.message})`;
    } finally { button.disabled = false; }
  });
  relogging = { done };
  (document.querySelector("main") || document.body).prepend(box);
  input.focus({ preventScroll: true });
  return done;
}
// where to go after logging in: a dashboard page of this site only (never another site's address)
export function safeNext(next) {
  return typeof next === "string" && /^\/ui(\/|$|\?|#)/.test(next) && !next.startsWith("/ui/login") ? next : "/ui/";
}

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${token() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {  // said as what it is (the page said only "Failed to fetch"); a change may or may not have arrived
    throw new Error(`no answer from the server (${err.message}): check the connection`
      + (method === "GET" ? ", then reload the page" : "; reload the page to see whether this was saved"));
  }
  if (res.status === 401 && !raw) {
    const detail = (await res.json().catch(() => ({}))).detail;
    relogin(detail);
    throw new ApiError(401, `not done: log in again (${detail || "token refused"})`);
  }
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, detail);
  }
  return res.json();
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.append(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

// A code as a person reads it, the same on every page: failure modes, health states, grades, ticket
// statuses, verdicts, reasons ("outer_race" → "outer race", "action_taken" → "action taken"). Only a
// code is touched: text someone wrote ("other: shaft_key sheared") is shown as written.
const WORDS = { "8d_updated": "8D updated", follow_up: "follow-up", customer_followup: "customer follow-up" };
export function words(code) {
  if (code === null || code === undefined || code === "") return "–";
  const s = String(code);
  return WORDS[s] ?? (/^[A-Za-z0-9_]+$/.test(s) ? s.replaceAll("_", " ") : s);
}

// A table whose rows carry a button at their end (Acknowledge, Verify) reads on a phone as one card per row,
// each cell under its column's name (app.css, table.stack): the button was off the screen's right edge, a
// sideways swipe of the table away. Call it after the rows are drawn.
export function labelCells(table) {
  const names = [...table.tHead.rows[0].cells].map((th) => th.textContent);
  for (const tr of table.tBodies[0].rows) {
    [...tr.cells].forEach((td, i) => { if (names[i] && td.colSpan === 1) td.dataset.label = names[i]; });
  }
}

export function badge(text, cls) { return el("span", { class: `badge ${cls || text}` }, text ? words(text) : "unknown"); }

export function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  const neg = s < 0; s = Math.abs(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  const txt = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
  return neg ? `-${txt}` : txt;
}

// Time left before the alarm limit: "due now" once it is reached.
// a unit's presence, and its silence when the deadman counts it silent: a broker that cut a unit off
// without publishing its will leaves it "online" for ever
export function presenceText(u) {
  return u.silent ? `${u.presence}, silent ${fmtDuration(u.silent_for_s)}` : u.presence;
}

export function fmtLeft(s) { return s !== null && s !== undefined && s <= 0 ? "due now" : fmtDuration(s); }

// A unit's time to failure counted down from now. The API's ttf_s (ttf_low_s, ttf_high_s) is the estimate as of
// the data assessed (ts), and failure_due_at (…_low_at, …_high_at) when it runs out: a unit silent for 10 h
// with "30 h left" has 20 h left, where the pages showed 30 h for as long as it stayed silent. null: no
// estimate; else {left, low, high} in seconds from `now` (below 0 once due; the estimate as it was when the
// API gives no due time), reached (the assessment found the alarm limit reached), due and asOf (ms).
export function timeLeft(h, now = Date.now()) {
  if (!h || h.ttf_s === null || h.ttf_s === undefined) return null;
  const due = (iso, s) => (iso ? Date.parse(iso) : h.ts != null && s != null ? (h.ts + s) * 1000 : null);
  const left = (iso, s) => { const at = due(iso, s); return at === null ? s ?? null : (at - now) / 1000; };
  return { left: left(h.failure_due_at, h.ttf_s), low: left(h.failure_due_low_at, h.ttf_low_s),
    high: left(h.failure_due_high_at, h.ttf_high_s), reached: h.ttf_s <= 0,
    due: due(h.failure_due_at, h.ttf_s), asOf: h.ts != null ? h.ts * 1000 : null };
}

// A time to failure in a few words, never a negative duration: {main, range, overdue} ("20h 0m", "likely
// between 10h 0m and 1d 6h"); "due now" when the assessment found the alarm limit reached; "overdue" once the
// due time has passed without a newer estimate (a unit that stopped reporting), with when it was due and the
// time of the estimate ("as of").
export function ttfWords(h, now = Date.now()) {
  const t = timeLeft(h, now);
  if (!t) return null;
  const limit = h.ttf_high_s !== null && h.ttf_high_s !== undefined && h.ttf_high_s <= 0;
  const gone = (s) => s !== null && s <= 0;
  if (t.reached || limit) {
    return { main: fmtLeft(0), overdue: false,
      range: limit || t.high === null || gone(t.high) ? "the alarm limit is reached" : `likely within ${fmtDuration(t.high)}` };
  }
  if (t.left <= 0) {
    return { main: "overdue", overdue: true,
      range: `was due ${fmtTime(t.due)}, as of the estimate on data of ${fmtTime(t.asOf)}` };
  }
  const range = gone(t.low) ? `likely within ${fmtDuration(Math.max(t.left, t.high ?? 0))}`
    : `likely between ${fmtDuration(t.low)} and ${fmtDuration(t.high)}`;
  return { main: fmtDuration(t.left), range, overdue: false };
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = typeof iso === "number" ? new Date(iso) : new Date(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

const ROLES = ["viewer", "service", "engineer", "admin"];
export function can(me, role) { return ROLES.indexOf(me.role) >= ROLES.indexOf(role); }

export function showError(err) {
  const main = document.querySelector("main");
  const box = el("div", { class: "error", role: "alert" }, err.message || String(err));
  main.prepend(box);
  setTimeout(() => box.remove(), 8000);
}

// A tap (or click) on the live mark shows, under the header's links, why the stream is paused: the mark's
// tooltip says it only to a mouse, and a phone has none. A second tap hides it again.
function why(ev) {
  const shown = document.getElementById("live-why");
  const mark = ev.currentTarget;
  if (shown) shown.remove();
  else if (mark.title) mark.closest("header").append(el("p", { class: "live-why", id: "live-why", role: "status" }, mark.title));
  if (mark.title) mark.setAttribute("aria-expanded", String(!shown));
}

// Header with navigation; resolves to the caller's {name, role}. Redirects to login without a token.
export async function page(active) {
  if (!token()) { relogin(); throw new Error("no token"); }
  let me;
  try { me = await api("/me"); } catch (err) {
    // the server unreachable (or failing) as the page opens: said where the page would be, with a way to try
    // again (the page stayed blank, the reason only in the browser's console)
    if (err.status !== 401) {
      document.getElementById("main")?.replaceChildren(el("div", { class: "error", id: "page-error" },
        `This page could not be opened: ${err.message}. `,
        el("button", { type: "button", class: "secondary", onclick: () => location.reload() }, "Try again")));
    }
    throw err;
  }
  const links = [["fleet", "/ui/", "Fleet"], ["alerts", "/ui/alerts", "Alerts"], ["tickets", "/ui/tickets", "Tickets"],
                 ["complaints", "/ui/complaints", "Complaints"], ["corrective", "/ui/corrective", "Actions"],
                 ["reports", "/ui/reports", "Reports"]];
  const header = el("header", {},
    el("span", { class: "brand" }, "Foreshock"),
    el("nav", {}, links.map(([k, href, label]) => el("a", { href, class: k === active ? "active" : "" }, label))),
    el("span", { class: "who" }, `${me.name} (${me.role}) `, el("span", { class: "live", id: "live", onclick: why,
      onkeydown: (e) => { if (e.currentTarget.title && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); why(e); } } }, "")),
    el("button", { class: "secondary", id: "logout", onclick: logout }, "Log out"));
  document.body.prepend(header);
  return me;
}

// Live updates over server-sent events (fetch streaming, so the token stays in a header). `kinds`:
// alert and ticket changes by default; "health" comes at every save of new assessments (30 s), for
// the pages that show a unit's health. A lost stream is opened again after 1, 2, 4 ... 30 s. One
// refused as too many (429: this token has api.max_event_streams_per_token open, e.g. as many tabs, or
// the server api.max_event_streams) waits at least the Retry-After the server gives, plus up to a fifth
// more at random so that many tabs do not come back at once, and the header says so.
export async function live(onEvent, kinds = ["alert", "ticket"]) {
  const mark = document.getElementById("live");
  const show = (text, why = "") => {
    if (!mark) return;
    mark.textContent = text; mark.title = why;
    // with a reason to show, the mark is a button a keyboard reaches too (Tab, then Enter or Space)
    if (why) { mark.setAttribute("role", "button"); mark.tabIndex = 0; } else { mark.removeAttribute("role"); mark.removeAttribute("tabindex"); }
    const note = document.getElementById("live-why");
    if (note && why) note.textContent = why; else if (note) note.remove();
  };
  let opened = 0;
  for (let attempt = 0; attempt < 1000; attempt++) {
    let wait = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5));
    let text = "○ reconnecting", why = "";
    try {
      const query = kinds.map((k) => `&kinds=${encodeURIComponent(k)}`).join("");
      const res = await fetch(`/api/v1/events?heartbeat_s=15${query}`, { headers: { Authorization: `Bearer ${token()}` } });
      // a token that expired or was revoked ends the stream: log in again (the page said "reconnecting"
      // for ever and went stale: the pages that follow the stream ask the API nothing else)
      if (res.status === 401) {
        show("○ logged out");
        await relogin((await res.json().catch(() => ({}))).detail);
        attempt = -1;  // logged in again on this page: open the stream again at once
        continue;
      }
      if (res.status === 429) {
        const asked = Number(res.headers.get("Retry-After"));
        const body = await res.json().catch(() => ({}));
        wait = Math.max(wait, (asked > 0 ? asked : 30) * 1000);
        wait += Math.random() * wait / 5;
        why = body.detail || "";
        text = `○ paused: ${body.setting === "api.max_event_streams" ? "server busy" : "too many open tabs"}`
          + ` · retry in ${Math.ceil(wait / 1000)} s`;
        throw new Error(why);
      }
      if (!res.ok) throw new Error(`events: ${res.status}`);
      show("● live");
      // what changed while the stream was lost (a network blip, a server restart, a new login) came as
      // events nobody received: the page stayed stale, an acknowledged alert unacknowledged, until the next
      // event. Opened again, the page refreshes once, as for an event.
      if (opened++ > 0) onEvent("reconnected", {});
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const kind = (block.match(/^event: (.*)$/m) || [])[1];
          const data = (block.match(/^data: (.*)$/m) || [])[1];
          if (kind && data) onEvent(kind, JSON.parse(data));
        }
      }
    } catch (_) { /* open it again below */ }
    show(text, why);
    // a pause counts its seconds down ("retry in 33 s", "retry in 32 s" ...): a number that stood still
    // for half a minute read as a page that had hung
    const until = Date.now() + wait;
    const tick = text.includes(" · retry in ") ? setInterval(() => show(
      text.replace(/retry in \d+ s$/, `retry in ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s`), why), 1000) : null;
    await new Promise((r) => setTimeout(r, wait));
    clearInterval(tick);
  }
}

// Only the newest of overlapping refreshes may draw: `const current = newest()` once, then in each
// refresh `const mine = current()` and after every await `if (!mine()) return;`. A live refresh asked
// before a filter changed could answer after the filtered one and put the unfiltered table back.
export function newest() {
  let n = 0;
  return () => { const mine = ++n; return () => mine === n; };
}

export function debounce(fn, ms = 300) {
  let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
