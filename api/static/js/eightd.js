// A ticket's 8D record, readable: a discipline is text or JSON, and JSON is shown as labelled fields
// (D2, the problem description, grouped as what / where / when / how much). Every value goes into
// the page as text (el() never parses HTML), so a customer's words cannot inject markup.
import { el, fmtDuration, fmtTime, words } from "./common.js";

export const DISCIPLINES = { D2: "problem description", D3: "containment", D4: "root cause",
  D5: "corrective actions", D6: "implemented and validated", D7: "prevention" };

const LABELS = {
  unit: "Unit", group: "Group", units: "Units", model: "Model", customer: "Customer", site: "Site",
  firmware: "Firmware", batch: "Batch", failure_mode: "Failure mode", state: "Health state", confidence: "Confidence",
  reported_by: "Reported by", complaint: "Complaint", customer_request: "Customer asks for", reasons: "Detector's reasons",
  occurred_at: "Occurred", window: "Time window", time_left_s: "Time left", iso_zone: "ISO 20816 zone",
  features: "Features", spectral_peaks: "Spectral peaks", recent_units: "Units in the recent window",
  baseline_units: "Units in the baseline window", ratio: "Rate against the baseline", window_d: "Recent window",
  baseline_d: "Baseline window", telemetry_evidence: "Telemetry evidence", alerts: "Alerts", health: "Health",
  features_error: "Telemetry unavailable", raised_at: "Raised", cleared_at: "Cleared", ttf_s: "Time to failure",
};
// D2 as a problem description: what, where, when, how much (the rest under "other")
const D2_GROUPS = [
  ["What", ["failure_mode", "state", "confidence", "reported_by", "complaint", "customer_request", "reasons"]],
  ["Where", ["unit", "group", "units", "model", "customer", "site", "firmware", "batch"]],
  ["When", ["occurred_at", "window"]],
  ["How much", ["time_left_s", "iso_zone", "features", "spectral_peaks", "recent_units", "baseline_units", "ratio",
    "window_d", "baseline_d"]],
  ["Evidence", ["telemetry_evidence"]],
];
const ROWS_OPEN = 5;  // a longer list of records (hourly telemetry) is folded, its size in the summary

// a key we know is labelled in words; any other (a feature's name, a key someone wrote) is shown as it is
const label = (k) => LABELS[k] || k;
// numbers in seconds and in days (a feature like velocity_rms_mm_s is neither)
const SECONDS = new Set(["estimate", "low", "high", "ttf_s", "ttf_low_s", "ttf_high_s", "warning_lead_s"]);
const DAYS = new Set(["window_d", "baseline_d"]);
// values that are codes, shown in words like everywhere else ("outer_race" → "outer race")
const CODES = new Set(["failure_mode", "state", "customer_request", "reported_by"]);
const empty = (v) => v === null || v === undefined || v === "" || (typeof v === "object" && !Object.keys(v).length);

function num(v) { return Number.isInteger(v) ? v.toLocaleString("en") : String(Number(v.toPrecision(4))); }

function scalar(key, v) {
  if (typeof v === "number") {
    if (key === "confidence" && v >= 0 && v <= 1) return `${Math.round(v * 100)} %`;
    // the detectors count ISO 20816 zones 0..3; the standard and the unit's chart call them A..D
    if (key === "iso_zone" && Number.isInteger(v) && v >= 0 && v <= 3) return "ABCD"[v];
    // a time in epoch seconds (a health record's ts), like every other time on the dashboard
    if ((key === "ts" || /_at$/.test(key)) && v > 1e9 && v < 1e11) return fmtTime(v * 1000);
    if (key === "ratio") return `${num(v)}×`;
    if (DAYS.has(key)) return `${num(v)} days`;
    if (SECONDS.has(key)) return fmtDuration(v);
    return num(v);
  }
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string" && CODES.has(key)) return words(v);
  if (typeof v === "string" && (/_at$|^ts$/.test(key)) && !Number.isNaN(Date.parse(v))) return fmtTime(v);
  return String(v);
}

// one value of any shape as nodes or text
function value(key, v) {
  if (empty(v)) return "–";
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object")) return v.map((x) => scalar(key, x)).join(", ");
    return records(v);
  }
  if (typeof v === "object") {
    if (key === "time_left_s" && "estimate" in v) {
      return v.estimate == null ? "not estimated" : `${fmtDuration(v.estimate)} (${fmtDuration(v.low)} – ${fmtDuration(v.high)})`;
    }
    if (key === "window" && "from" in v && "to" in v) return `${fmtTime(v.from)} – ${fmtTime(v.to)}`;
    return fields(v);
  }
  return scalar(key, v);
}

// a list of records as a table with a column per key; folded when long
function records(list) {
  const keys = [...new Set(list.flatMap((r) => (r && typeof r === "object" ? Object.keys(r) : [])))];
  const table = el("table", { class: "records" }, el("thead", {}, el("tr", {}, keys.map((k) => el("th", {}, label(k))))),
    el("tbody", {}, list.map((r) => el("tr", {}, keys.map((k) => el("td", {}, value(k, (r || {})[k])))))));
  return list.length <= ROWS_OPEN ? table : el("details", {}, el("summary", {}, `${list.length} entries`), table);
}

// an object as a two-column table of labelled fields
export function fields(obj, keys = Object.keys(obj)) {
  return el("table", { class: "fields" }, el("tbody", {}, keys.map((k) =>
    el("tr", { "data-field": k }, el("th", { scope: "row" }, label(k)), el("td", {}, value(k, obj[k]))))));
}

function problemDescription(d2) {
  const known = new Set(D2_GROUPS.flatMap(([, keys]) => keys));
  const groups = [...D2_GROUPS, ["Other", Object.keys(d2).filter((k) => !known.has(k))]];
  return el("div", { class: "d2" }, groups.map(([title, keys]) => {
    const present = keys.filter((k) => k in d2 && !empty(d2[k]));
    return present.length ? el("div", { "data-group": title }, el("h4", {}, title), fields(d2, present)) : null;
  }));
}

// one discipline's content as the record shows it (for the history's "what it replaced")
export function shown(d, v) {
  if (v === null || typeof v !== "object") return String(v ?? "");
  return d === "D2" && !Array.isArray(v) ? problemDescription(v) : value(d, v);
}

// the list items of the 8D record, one per discipline filled in
export function eightD(record) {
  return Object.keys(DISCIPLINES).filter((k) => k in record).map((k) => {
    const v = record[k];
    if (v === null || typeof v !== "object") return el("li", { "data-d": k }, `${k}: ${v ?? ""}`);
    return el("li", { "data-d": k }, el("strong", {}, `${k} (${DISCIPLINES[k]})`), empty(v) ? " –" : shown(k, v));
  });
}
