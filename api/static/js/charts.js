// Chart helpers on uPlot (vendored, MIT): time series with ISO zone bands, spectra with markers, Pareto bars.
import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { el, fmtTime } from "./common.js";

const COLORS = ["#2356c6", "#c62828", "#2e8b57", "#8e44ad", "#e07b24", "#0097a7"];
const ZONE_FILL = ["rgba(46,139,87,.10)", "rgba(201,162,39,.12)", "rgba(224,123,36,.13)", "rgba(198,40,40,.12)"];
const MARK_COLOR = { shaft: "#555", bpfo: "#c62828", bpfi: "#8e44ad", bsf: "#e07b24", ftf: "#0097a7" };

function width(container) { return Math.max(320, container.clientWidth - 8); }

function sizeWith(container, plot) {
  new ResizeObserver(() => plot.setSize({ width: width(container), height: plot.height })).observe(container);
}

// Horizontal bands (ISO 20816 zones A–D) behind a series on scale "y".
function bandsPlugin(limits) {
  return { hooks: { drawClear: [(u) => {
    if (!limits) return;
    const { ctx } = u; const { left, top, width: w, height: h } = u.bbox;
    const edges = [0, ...limits, Math.max(u.scales.y.max ?? 0, limits[2] * 1.3)];
    ctx.save();
    for (let i = 0; i < 4; i++) {
      const y0 = u.valToPos(edges[i], "y", true), y1 = u.valToPos(edges[i + 1], "y", true);
      const a = Math.max(top, Math.min(y0, y1)), b = Math.min(top + h, Math.max(y0, y1));
      if (b > a) { ctx.fillStyle = ZONE_FILL[i]; ctx.fillRect(left, a, w, b - a); }
      if (b > a) {  // each zone shown is labelled at its lower edge, D (the damage zone) too
        ctx.fillStyle = "#6b7385"; ctx.font = `${11 * devicePixelRatio}px system-ui`;
        ctx.fillText("ABCD"[i], left + 4 * devicePixelRatio, b - 3 * devicePixelRatio);
      }
    }
    ctx.restore();
  }] } };
}

// Vertical marker lines with labels (1×, 2×, BPFO, …).
function markersPlugin(markers) {
  return { hooks: { draw: [(u) => {
    const { ctx } = u; const { top, height: h } = u.bbox;
    ctx.save(); ctx.font = `${10 * devicePixelRatio}px system-ui`; ctx.setLineDash([4, 3]);
    let row = 0;
    for (const m of markers) {
      if (m.freq_hz < u.scales.x.min || m.freq_hz > u.scales.x.max) continue;
      const x = u.valToPos(m.freq_hz, "x", true);
      ctx.strokeStyle = ctx.fillStyle = MARK_COLOR[m.kind] || "#555";
      ctx.globalAlpha = m.label.includes("×") && m.kind !== "shaft" ? 0.45 : 1;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
      if (ctx.globalAlpha === 1) ctx.fillText(m.label, x + 2, top + (10 + 11 * (row++ % 5)) * devicePixelRatio);
    }
    ctx.restore();
  }] } };
}

// Zooming the x axis (time or frequency): a mouse drags across the plot (uPlot's own selection), a finger
// drags sideways (uPlot follows a mouse only; the plot takes horizontal moves, touch-action pan-y, so a vertical
// swipe still scrolls the page and a pinch still zooms it); a double click or double tap, or the bar's
// "Show whole range" button, shows everything again. The zoom is kept on the container, so a redraw of the
// same chart with new data (live updates) keeps it; `container.zoom = null` before a redraw drops it.
// `full`: the whole range, [min, max] in the x scale's units, or null for the data's extent.
const MIN_DRAG_PX = 12;  // a narrower drag is a tap (the legend shows the values there)
const DOUBLE_TAP_MS = 400;

function zoomPlugin(container, full, describe) {
  const bar = el("div", { class: "zoom-bar", hidden: true });  // what is shown, and the way back
  const say = el("span", { class: "muted" });
  const all = el("button", { type: "button", class: "secondary zoom-reset" }, "Show whole range");
  bar.append(say, all);
  let plot = null;
  const range = (u, mn, mx) => container.zoom ?? full ?? [mn, mx];
  const show = () => {
    bar.hidden = !container.zoom;
    if (container.zoom) say.textContent = `zoomed: ${describe(...container.zoom)} `;
  };
  const zoomTo = (a, b) => {
    if (!(b > a)) return;
    container.zoom = [a, b];
    plot.setScale("x", { min: a, max: b });
    show();
  };
  const reset = () => {
    container.zoom = null;
    const d = plot.data[0];
    const [min, max] = full ?? [d[0], d[d.length - 1]];
    if (min !== undefined && max !== undefined) plot.setScale("x", { min, max });
    show();
  };
  all.addEventListener("click", reset);
  const hide = () => plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  const select = (x0, x1) => plot.setSelect({ left: Math.min(x0, x1), width: Math.abs(x1 - x0), top: 0,
    height: plot.over.clientHeight }, false);
  const fromSelect = (left, width) => zoomTo(plot.posToVal(left, "x"), plot.posToVal(left + width, "x"));

  // A finger: its own drag across the plot. A tap is left to the browser (it becomes the click whose values the
  // legend shows); two taps in a row show the whole range.
  function touch(over) {
    let start = null, lastTap = null;
    const at = (e) => Math.max(0, Math.min(over.clientWidth, e.clientX - over.getBoundingClientRect().left));
    over.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse") return;
      start = start ? null : { id: e.pointerId, x: at(e), dragged: false };  // a second finger: no drag
      if (!start) hide();
    });
    over.addEventListener("pointermove", (e) => {
      if (!start || e.pointerId !== start.id) return;
      const x = at(e);
      if (Math.abs(x - start.x) >= MIN_DRAG_PX) start.dragged = true;
      if (start.dragged) select(start.x, x);
    });
    over.addEventListener("pointerup", (e) => {
      if (!start || e.pointerId !== start.id) return;
      const x0 = start.x, x1 = at(e), { dragged } = start;
      start = null;
      hide();
      if (dragged) { lastTap = null; if (Math.abs(x1 - x0) >= MIN_DRAG_PX) fromSelect(Math.min(x0, x1), Math.abs(x1 - x0)); return; }
      // a second tap soon after the first and near it (a tap elsewhere reads the values there)
      const tap = { at: e.timeStamp, x: x1 };
      if (lastTap && tap.at - lastTap.at < DOUBLE_TAP_MS && Math.abs(tap.x - lastTap.x) < 3 * MIN_DRAG_PX) { lastTap = null; reset(); }
      else lastTap = tap;
    });
    // the browser took the gesture (a vertical swipe scrolls the page, two fingers zoom it): no zoom here
    over.addEventListener("pointercancel", () => { start = null; hide(); });
  }

  return {
    range,
    cursor: { drag: { x: true, y: false, setScale: false } },
    plugin: { hooks: {
      init: [(u) => {
        plot = u;
        container.prepend(bar);
        show();
        // before uPlot's own double click (which shows the data's extent): forget the zoom first
        u.root.addEventListener("dblclick", reset, true);
        touch(u.over);
      }],
      // the x range shown (a time span in epoch seconds, or Hz), for the browser tests (data-x-min / data-x-max)
      setScale: [(u, key) => { if (key === "x") Object.assign(container.dataset, { xMin: u.scales.x.min, xMax: u.scales.x.max }); }],
      // a mouse's drag (cursor.drag.setScale is off: uPlot would zoom to the selection and the range
      // function, which keeps a trend on its window, would undo it)
      setSelect: [(u) => {
        const { left, width } = u.select;
        hide();
        if (width >= MIN_DRAG_PX) fromSelect(left, width);
      }],
    } },
  };
}

// The time axis in UTC, 24 h, dates as ISO (MM-DD; the first with its year, and again where the year turns),
// like every other time on the dashboard: uPlot's default is US style ("12pm", "12am" over "11/22", "11/16/26").
// The labels drawn are kept in the container's data-x-ticks (the browser tests read them: the canvas cannot be).
function utcTicks(container) {
  return (u, splits, axisIdx, space, incr) => {
    let prev = null;
    const labels = splits.map((ts) => {
      const iso = new Date(ts * 1000).toISOString();
      const year = iso.slice(0, 4), day = iso.slice(0, 10);
      const date = prev === null || prev.slice(0, 4) !== year ? day : iso.slice(5, 10);
      const label = incr >= 86400 ? date : (prev !== null && prev.slice(0, 10) === day ? iso.slice(11, 16)
        : `${iso.slice(11, 16)}\n${date}`);
      prev = iso;
      return label;
    });
    container.dataset.xTicks = labels.join("|");
    return labels;
  };
}

// xRange_ms: the time window asked for, [start, end] in ms. uPlot's own range around a unit's first one or
// two points spanned years (a 7 d trend of a new unit showed Jan 2027 to Jul 2029); the window is what was asked.
export function timeChart(container, { title, ts_ms, series, zoneLimits, unit, xRange_ms }) {
  container.replaceChildren();
  const names = Object.keys(series);
  const data = [ts_ms.map((t) => t / 1000), ...names.map((n) => series[n])];
  const zoom = zoomPlugin(container, xRange_ms ? [xRange_ms[0] / 1000, xRange_ms[1] / 1000] : null,
    (a, b) => `${fmtTime(a * 1000).replace(" UTC", "")} – ${fmtTime(b * 1000)}`);
  const opts = {
    title, width: width(container), height: 220,
    series: [{ value: (u, v) => (v == null ? "--" : fmtTime(v * 1000)) },
      ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
    // in UTC like every other time on the dashboard (uPlot draws the browser's local time by default:
    // a snapshot "21:20 UTC" sat at 4 pm on a New York browser's axis)
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    axes: [{ label: "UTC", labelSize: 20, values: utcTicks(container) }, { label: unit || "", size: 60 }],
    scales: {
      x: { time: true, range: zoom.range },
      y: zoneLimits ? { range: (u, mn, mx) => [0, Math.max(mx ?? 0, zoneLimits[2] * 1.15)] } : {},
    },
    cursor: zoom.cursor,
    plugins: [bandsPlugin(zoneLimits), zoom.plugin],
  };
  const plot = new uPlot(opts, data, container);
  container.dataset.points = ts_ms.length;  // how many points it draws (the browser tests read it)
  sizeWith(container, plot);
  return plot;
}

export function spectrumChart(container, { title, freqs, amp, markers, unit, logY }) {
  container.replaceChildren();
  const zoom = zoomPlugin(container, null, (a, b) => {
    const digits = b - a < 10 ? 2 : b - a < 100 ? 1 : 0;
    return `${a.toFixed(digits)} – ${b.toFixed(digits)} Hz`;
  });
  const opts = {
    title, width: width(container), height: 240,
    scales: { x: { time: false, range: zoom.range }, y: logY ? { distr: 3 } : {} },
    cursor: zoom.cursor,
    series: [{ label: "Hz" }, { label: unit, stroke: "#2356c6", width: 1, points: { show: false } }],
    axes: [{ label: "Hz" }, { label: unit, size: 70 }],
    plugins: [markersPlugin(markers || []), zoom.plugin],
  };
  const y = logY ? amp.map((v) => Math.max(v, 1e-9)) : amp;
  const plot = new uPlot(opts, [freqs, y], container);
  sizeWith(container, plot);
  return plot;
}

// ``unit``: what a bar counts ("tickets", "failures"), in the legend and on the axis
export function paretoChart(container, { bars, unit = "tickets" }) {
  container.replaceChildren();
  const keys = bars.map((b) => b.key);
  const opts = {
    width: width(container), height: 280,
    scales: { x: { time: false, range: [-0.5, Math.max(keys.length - 0.5, 0.5)] }, pct: { range: [0, 100] } },
    series: [{ label: "failure mode", value: (u, i) => keys[Math.round(i)] ?? "" },
      { label: unit, fill: "rgba(35,86,198,.55)", stroke: "#2356c6", paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false } },
      { label: "cumulative %", scale: "pct", stroke: "#c62828", width: 2 }],
    axes: [{ values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? keys[v] ?? "" : "")), incrs: [1] },
      { label: unit, size: 50, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },  // whole counts
      { side: 1, scale: "pct", label: "cumulative %", grid: { show: false } }],
  };
  const plot = new uPlot(opts, [keys.map((_, i) => i), bars.map((b) => b.count), bars.map((b) => 100 * b.cumulative)], container);
  sizeWith(container, plot);
  return plot;
}
