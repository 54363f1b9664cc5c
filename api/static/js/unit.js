import { api, badge, can, el, fmtDuration, fmtTime, live, page, presenceText, showError, debounce, ttfWords, words } from "./common.js";
import { spectrumChart, timeChart } from "./charts.js";

const main = document.getElementById("main");
const me = await page("fleet");
let id = new URLSearchParams(location.search).get("id");
const RANGES = { "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "90d": 90 * 86400e3 };

const head = el("div", { class: "panel", id: "unit-head" });
const range = el("select", { id: "range" }, Object.keys(RANGES).map((r) => el("option", { value: r, selected: r === "7d" }, r)));
const trends = { vel: el("div", { id: "chart-velocity" }), kurt: el("div", { id: "chart-kurtosis" }), env: el("div", { id: "chart-envelope-peaks" }) };
const spec = el("div", { id: "chart-spectrum" }), env = el("div", { id: "chart-envelope" });
const specInfo = el("p", { class: "muted", id: "spectrum-info" });
const trendsInfo = el("p", { class: "muted", id: "trends-info" });
const tickets = el("tbody", { id: "unit-tickets" });
// how to zoom, in the words of what is at hand (app.css shows one: a finger on a touch screen, else a mouse)
const zoomHint = () => el("p", { class: "muted zoom-hint" },
  el("span", { class: "by-mouse" }, "Drag across a chart to zoom in; double-click it to see the whole range again."),
  el("span", { class: "by-finger" }, "Drag a finger sideways across a chart to zoom in; double-tap it to see the whole range again."));
const relearn = relearnPanel();
main.append(el("p", {}, el("a", { href: "/ui/" }, "← Fleet")), head, relearn.panel,
  el("div", { class: "panel" }, el("div", { class: "filters" }, el("h2", {}, "Trends"), el("label", {}, "Range", range)),
    trendsInfo, zoomHint(), trends.vel, trends.kurt, trends.env),
  el("div", { class: "panel" }, el("h2", {}, "Latest spectrum and envelope spectrum"), specInfo, zoomHint(),
    el("div", { class: "grid2" }, spec, env)),
  el("div", { class: "panel" }, el("h2", {}, "Tickets"), el("table", {}, el("thead", {}, el("tr", {},
    ["Ticket", "Status", "Grade", "Failure mode", "Opened", "Assignee"].map((h) => el("th", {}, h)))), tickets)));

let zoneLimits = null;

async function loadHead() {
  const u = await api(`/units/${encodeURIComponent(id)}`);
  // the serial as registered: "p-0001" typed in the address (or a link) finds P-0001, but the live events
  // name P-0001, and the page never followed its health, alerts and tickets
  if (u.device_id !== id) {
    id = u.device_id;
    history.replaceState(null, "", `${location.pathname}?id=${encodeURIComponent(id)}${location.hash}`);
  }
  const h = u.health || {};
  zoneLimits = u.zone_limits_mm_s || zoneLimits;
  document.title = `Foreshock · ${u.device_id}`;
  shownHealth = h;
  const ttf = el("div", { id: "ttf-block" }, ttfBlock(h));
  head.replaceChildren(
    el("h1", {}, `Unit ${u.device_id} `, badge(h.state)),
    el("div", { class: "grid2" },
      el("div", {},
        el("p", {}, `Model ${u.model || "–"} · ${u.customer || "–"} · ${u.site || "–"} · firmware ${u.firmware || "–"} · ${presenceText(u)}`),
        el("p", { id: "why" }, el("strong", {}, "Why: "), why(h),
          h.confidence != null ? ` (confidence ${(100 * h.confidence).toFixed(0)} %)` : ""),
        el("ul", { class: "reasons", id: "reasons" }, (h.reasons || []).map((r) => el("li", {}, r))),
        el("p", { class: "muted", id: "assessed", "data-ts": h.ts ?? "" }, assessed(h)),
        thresholds(u.detector_thresholds)),
      el("div", {}, el("h2", {}, "Estimated time to failure"), ttf)));
  relearn.show(u.relearn, h.reasons || []);
}

let shownHealth = null;  // the health the head shows: its time to failure is counted down between assessments

// The time to failure counted from now (common.js ttfWords): a unit that stopped reporting has its estimate
// counted down, and says "overdue" once it has run out, rather than the time left when it was last assessed.
function ttfBlock(h) {
  const t = ttfWords(h);
  if (!t) return [el("div", { class: "muted", id: "ttf" }, "no time-to-failure estimate")];
  return [el("div", { class: t.overdue ? "ttf late" : "ttf", id: "ttf" }, t.main), el("div", { class: "muted", id: "ttf-range" }, t.range)];
}

// Relearn the unit's detector baseline (POST /units/{id}/relearn, engineer and up): after a repair, or to
// accept the bearing lines the commissioning check flagged as this unit's normal. Its own panel, outside
// the head (rebuilt at every live update: a reason being typed would be lost). Every role reads the
// latest request (GET /units/{id} relearn); a viewer with nothing asked gets no panel.

function relearnPanel() {
  const KINDS = {
    repair: ["after a repair or part change: learn this unit's normal again",
      "its detectors forget what they learnt and commission it again from its next snapshots"],
    accept: ["the current bearing lines are this unit's normal (a technician found no fault)",
      "a line warns again only when it grows above its level now"],
  };
  const line = el("p", { id: "relearn-request" });
  const panel = el("div", { class: "panel", id: "relearn", hidden: !can(me, "engineer") }, el("h2", {}, "Detector baseline"), line);
  const show = (r, reasons) => {
    if (!r) {
      line.className = "muted";
      line.textContent = "No relearn of this unit's baseline has been asked for.";
      return;
    }
    panel.hidden = false;
    line.className = "";
    // the detectors start from the request with the unit's next message (r.applied from then on); its note is
    // the first reason ("relearn requested by alice: new bearing") until the baseline is learnt
    const note = (r.by ? `relearn requested by ${r.by}` : "relearn requested") + (r.reason ? `: ${r.reason}` : "");
    const learning = reasons.some((x) => x === note || x.startsWith(`${note} (`));
    const state = learning ? " · applied: the baseline is being learnt (see the reasons above)"
      : r.applied ? " · applied: the detectors started from it"
        : " · the detectors apply it with the unit's next message; while they learn, the reasons above say so";
    line.replaceChildren(el("strong", {}, "Relearn asked"), ` by ${r.by || "–"} on ${fmtTime(r.requested_at)}`,
      r.reason ? `: ${r.reason}` : "",
      r.accept_current ? " · the current bearing lines accepted as this unit's normal" : " · learn this unit's normal again",
      el("span", { class: "muted" }, state));
  };
  if (!can(me, "engineer")) return { panel, show };

  const open = el("button", { type: "button", class: "secondary", id: "relearn-open", "aria-expanded": "false" }, "Relearn baseline…");
  const reason = el("input", { name: "reason", maxlength: 500, size: 48, placeholder: "e.g. new bearing fitted" });
  const submit = el("button", { type: "submit", id: "relearn-submit" }, "Confirm relearn");
  const cancel = el("button", { type: "button", class: "secondary", id: "relearn-cancel" }, "Cancel");
  const form = el("form", { id: "relearn-form", class: "relearn", hidden: true, novalidate: true },
    el("fieldset", {}, el("legend", {}, "What is the relearn for?"),
      Object.entries(KINDS).map(([value, [what, then]]) => el("label", { class: "choice" },
        el("input", { type: "radio", name: "kind", value }), el("span", {}, what, el("br"), el("small", { class: "muted" }, then))))),
    el("label", {}, "Reason (shown with the unit's health until the baseline is learnt)", reason),
    el("div", { class: "filters" }, submit, cancel));
  const toggle = (shown) => {
    form.hidden = !shown; open.hidden = shown; open.setAttribute("aria-expanded", String(shown));
    if (shown) form.querySelector("input").focus(); else open.focus();
  };
  open.addEventListener("click", () => toggle(true));
  cancel.addEventListener("click", () => toggle(false));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const kind = form.querySelector("input[name=kind]:checked")?.value;
    const why = reason.value.trim();
    if (!kind) { showError(new Error("choose what the relearn is for: after a repair, or the current lines are this unit's normal")); return; }
    if (!why) { showError(new Error("reason: say why (e.g. new bearing fitted, or what the technician found)")); reason.focus(); return; }
    submit.disabled = true;
    try {
      await api(`/units/${encodeURIComponent(id)}/relearn`, { method: "POST", body: { accept_current: kind === "accept", reason: why } });
      form.reset();
      toggle(false);
      await loadHead();
    } catch (err) {
      // kept as typed: a refusal (403, 400 decommissioned, 404) or a lost connection does not lose the reason
      if (err.status !== 401) showError(err.status ? err : new Error(`relearn not sent: ${err.message}`));
    } finally { submit.disabled = false; }
  });
  panel.append(open, form);
  return { panel, show };
}

// how much closure feedback raised this unit's detector thresholds (GET /units/{id} detector_thresholds):
// a unit whose false alarms dulled its detectors warns later, and whoever looks at it should know
function thresholds(d) {
  if (!d) return "";
  return el("p", { id: "detector-thresholds", class: d.factor > 1 ? "" : "muted" },
    d.factor > 1 ? el("strong", {}, "Field feedback: ") : "", d.statement);
}

// the diagnosis in words; a unit that could not be assessed says so (it is not "no fault")
function why(h) {
  if (h.failure_mode) return words(h.failure_mode);
  if (h.sensor_fault) return `cannot assess: sensor fault (${words(h.sensor_fault)})`;
  if (h.ts == null && h.updated_at == null) return "not assessed yet: no data of this unit has been analysed";
  if (h.state === "unknown") return "cannot assess (see below)";
  return "no fault diagnosed";
}

// when the data assessed was measured: a unit that stopped reporting keeps its last health
function assessed(h) {
  if (h.ts == null) return "";
  const age = Date.now() / 1000 - h.ts;
  return `assessed on data of ${fmtTime(h.ts * 1000)}` + (age >= 60 ? ` (${fmtDuration(age)} ago)` : " (just now)");
}

// "(1d 6h ago)" grows while the page is open: the head is drawn again only with this unit's own assessments,
// and a unit that stopped sending has none, so the age it was opened with stood still ("1m 18s ago" an hour on)
// and so does the time to failure ("20h 0m" left, then "overdue"): it counts down from its due time
setInterval(() => {
  const p = document.getElementById("assessed");
  if (p && p.dataset.ts) p.textContent = assessed({ ts: Number(p.dataset.ts) });
  const block = document.getElementById("ttf-block");
  if (block && shownHealth) block.replaceChildren(...ttfBlock(shownHealth));
}, 15e3);

// the trend lines' names in the legends: the feature names (velocity_rms_mm_s) read as codes
const SERIES = { velocity_rms_mm_s: "velocity RMS", rms_g: "acceleration RMS", kurtosis: "kurtosis",
  env_kurtosis: "envelope kurtosis", bpfo_db: "BPFO", bpfi_db: "BPFI", bsf_db: "BSF", ftf_db: "FTF" };

let trendsAsked = 0;  // the newest request wins: a range chosen while an older one loads is not overwritten

async function loadTrends() {
  const asked = ++trendsAsked;
  const end = Date.now() + 60e3, start = end - RANGES[range.value];
  const q = (m) => `/units/${encodeURIComponent(id)}/series?measurement=${m}&start_ms=${Math.floor(start)}&end_ms=${Math.floor(end)}&points=400`;
  const vib = await api(q("vibration"));
  if (asked !== trendsAsked) return;
  const f = vib.fields;
  const named = (keys) => Object.fromEntries(keys.map((k) => [SERIES[k] || words(k), f[k]]));
  const vel = Object.keys(f).filter((k) => k.startsWith("velocity") || k.startsWith("v_rms"));
  const xRange_ms = [start, end];
  // without a velocity the chart shows the acceleration RMS in g, not on the mm/s zone bands
  trendsInfo.textContent = vib.ts_ms.length ? "" : `No vibration data from this unit in the last ${range.value}.`;
  timeChart(trends.vel, vel.length || !vib.ts_ms.length
    ? { title: "Velocity RMS (mm/s) against ISO 20816 zones", ts_ms: vib.ts_ms, unit: "mm/s", xRange_ms, zoneLimits,
        series: named(vel) }
    : { title: "Acceleration RMS (g): no velocity measured", ts_ms: vib.ts_ms, unit: "g", xRange_ms,
        series: named(["rms_g"].filter((k) => k in f)) });
  const kurt = ["kurtosis", "env_kurtosis"].filter((k) => k in f);
  timeChart(trends.kurt, { title: "Kurtosis (signal and envelope band)", ts_ms: vib.ts_ms, xRange_ms, series: named(kurt) });
  // Envelope-spectrum peaks at the bearing defect frequencies (dB above the local floor).
  const envKeys = Object.keys(f).filter((k) => /^(bpfo|bpfi|bsf|ftf)_db$/.test(k) || (/^env_/.test(k) && !/(_hz|kurtosis)$/.test(k)));
  timeChart(trends.env, { title: "Envelope peaks at BPFO / BPFI / BSF (dB above floor)", ts_ms: vib.ts_ms, unit: "dB", xRange_ms,
    series: named(envKeys) });
}

async function loadSpectrum() {
  try {
    const s = await api(`/units/${encodeURIComponent(id)}/spectrum?envelope_max_hz=500`);
    zoneLimits = s.zone_limits_mm_s || zoneLimits;
    specInfo.textContent = `Snapshot ${fmtTime(s.ts * 1000)} · fs ${s.fs} Hz · ${s.n} samples · shaft ${s.shaft_hz ? s.shaft_hz.toFixed(2) + " Hz" : "unknown"}` +
      (s.velocity_rms_mm_s != null ? ` · velocity RMS ${s.velocity_rms_mm_s.toFixed(2)} mm/s` : "");
    const low = s.markers.filter((m) => m.freq_hz < 1000);
    spectrumChart(spec, { title: "Spectrum (g)", freqs: s.spectrum.freqs, amp: s.spectrum.amp_g, unit: "g", markers: low.filter((m) => m.kind === "shaft"), logY: true });
    spectrumChart(env, { title: `Envelope spectrum (band ${s.envelope.band_hz.map((v) => v.toFixed(0)).join("–")} Hz)`,
      freqs: s.envelope.freqs, amp: s.envelope.amp, unit: "g²", markers: low });
  } catch (err) {
    specInfo.textContent = err.status === 404 ? err.message : `spectrum unavailable: ${err.message}`;
  }
}

async function loadTickets() {
  const res = await api(`/tickets?device_id=${encodeURIComponent(id)}&limit=50`);
  tickets.replaceChildren(...res.data.map((t) => el("tr", { "data-ticket": t.number },
    el("td", {}, el("a", { href: `/ui/tickets#${t.number}` }, t.number)), el("td", {}, words(t.status)), el("td", {}, badge(t.grade)),
    el("td", {}, words(t.failure_mode)), el("td", {}, fmtTime(t.opened_at)), el("td", {}, t.assignee || "–"))));
  if (!res.data.length) tickets.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No tickets.")));
}

async function found() {
  try { await loadHead(); return true; } catch (err) {
    if (err.status === 401) return false;  // on its way to the login page
    // an unknown or unreadable unit: say so where the page would be (not for 8 s over empty panels)
    main.replaceChildren(el("p", {}, el("a", { href: "/ui/" }, "← Fleet")),
      el("div", { class: "error", role: "alert", id: "unit-error" }, err.message || String(err)));
    return false;
  }
}

// Whether someone reads a chart's values: a mouse resting on it, or a finger that tapped it in the last
// 15 s. (A tap leaves the chart "under the pointer" until the next tap elsewhere: the trends and spectrum
// were not redrawn again for as long.)
const TAP_READ_MS = 15e3;
let pointer = "mouse", chartTappedAt = -Infinity;
document.addEventListener("pointerdown", (e) => {
  pointer = e.pointerType;
  if (e.pointerType !== "mouse" && e.target.closest?.(".u-over")) chartTappedAt = Date.now();
}, true);
document.addEventListener("pointermove", (e) => { if (e.pointerType === "mouse") pointer = "mouse"; }, true);
const reading = () => (pointer === "mouse" ? document.querySelector(".u-over:hover") !== null
  : Date.now() - chartTappedAt < TAP_READ_MS);

if (!id) { main.replaceChildren(el("div", { class: "error", id: "unit-error" }, "no unit given (?id=…)")); }
else if (await found()) {
  // listening before the first load: a range chosen while the page loads is not ignored
  range.addEventListener("change", () => {
    for (const c of Object.values(trends)) c.zoom = null;  // a zoom into the old window goes with it
    loadTrends().catch(showError);
  });
  try {
    await loadSpectrum();
    await Promise.all([loadTrends(), loadTickets()]);
  } catch (err) { showError(err); }
  // each event decides at once whether it concerns this unit (a debounced handler saw only the last)
  const head = debounce(() => loadHead().catch(showError), 500);
  const tickets = debounce(() => loadTickets().catch(showError), 500);
  // New assessments mean new snapshots: the trends and the spectrum follow too, at most once a minute
  // (each reload asks the telemetry store), and not while someone reads a chart (a reading is not redrawn away)
  const CHARTS_EVERY_MS = 60e3;
  let chartsAt = -Infinity, chartsDue = null;
  const charts = () => {
    if (chartsDue) return;
    chartsDue = setTimeout(async function again() {
      if (reading()) { chartsDue = setTimeout(again, 5e3); return; }
      chartsDue = null;
      chartsAt = Date.now();
      try { await loadSpectrum(); await loadTrends(); } catch (err) { showError(err); }
    }, Math.max(500, chartsAt + CHARTS_EVERY_MS - Date.now()));
  };
  live((kind, ev) => {
    if (kind === "health") {  // new assessments saved: this unit's, or more units than the event names
      if (ev.device_ids?.includes(id) || ev.units > (ev.device_ids?.length ?? 0)) { head(); charts(); }
    } else if (!ev.device_id || ev.device_id === id) { head(); tickets(); }
  }, ["alert", "ticket", "health"]);
}
