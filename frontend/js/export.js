// The export menu every chart carries in its Plotly modebar: PNG (2×), SVG, and
// the chart's own data as CSV (the traces as drawn: after smoothing, grouping and
// joining), plus the "Publication style" toggle that the image exports follow
// (white background, larger type, no grid, the Okabe–Ito colour-blind-safe palette).
// Every page builds its Plotly config with plotConfig(), so no chart lacks the menu.

/* global Plotly */

import { csvCell } from "./results.js";

// Okabe & Ito (2008), "Color Universal Design": told apart under the common colour-vision deficiencies.
export const OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
const STYLE_KEY = "reglab.publicationStyle";
const STYLE_TITLE = "Publication style for image exports";

export function publicationStyle() {
  try {
    return localStorage.getItem(STYLE_KEY) === "1";
  } catch {
    return false; // storage refused (a locked-down file:// page): the default style
  }
}

export function setPublicationStyle(on) {
  try {
    localStorage.setItem(STYLE_KEY, on ? "1" : "0");
  } catch {
    // not kept across pages then, but the toggle still applies to this page's exports
    memoryStyle = on;
  }
  markStyleButtons();
}

let memoryStyle = null;
const styleOn = () => (memoryStyle ?? publicationStyle());

function markStyleButtons() {
  for (const button of document.querySelectorAll('.modebar-btn[data-val="reglab-style"], .modebar-btn[data-title^="Publication style"]')) {
    button.classList.toggle("active", styleOn());
    button.setAttribute("data-title", `${STYLE_TITLE}: ${styleOn() ? "on" : "off"}`);
    button.setAttribute("aria-pressed", String(styleOn()));
  }
}

// "#4e79a7", "rgba(78, 121, 167, 0.3)", "hsl(93, 60%, 52%)", "hsla(93, 60%, 52%, 0.18)" -> the colour without
// its alpha (what identifies a run's or group's colour) and the alpha.
export function splitColor(color) {
  if (typeof color !== "string") return null;
  const text = color.trim().toLowerCase();
  if (/^#[0-9a-f]{6}$/.test(text)) return { key: text, alpha: 1 };
  const match = text.match(/^(rgb|hsl)a?\(([^)]*)\)$/);
  if (!match) return null;
  const parts = match[2].split(",").map((part) => part.trim());
  let key = `${match[1]}(${parts.slice(0, 3).join(", ")})`;
  if (match[1] === "rgb") key = `#${parts.slice(0, 3).map((v) => Number(v).toString(16).padStart(2, "0")).join("")}`;
  return { key, alpha: parts.length > 3 ? Number(parts[3]) : 1 };
}

function withAlpha(hex, alpha) {
  if (alpha >= 1) return hex;
  const value = parseInt(hex.slice(1), 16);
  return `rgba(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

const FONT = { family: "Arial, Helvetica, sans-serif", size: 16, color: "#000000" };

// The figure in publication style; `data` and `layout` are left as they are. Each distinct colour
// (a run's or a group's, whatever its alpha) takes the next Okabe–Ito colour, in trace order, so a
// group's band and faint runs keep their mean line's colour. Colour scales (heatmaps) stay: Viridis
// is already colour-blind safe.
export function publicationFigure(data, layout) {
  const assigned = new Map();
  const recolor = (color) => {
    const split = splitColor(color);
    if (!split) return color;
    if (!assigned.has(split.key)) assigned.set(split.key, OKABE_ITO[assigned.size % OKABE_ITO.length]);
    return withAlpha(assigned.get(split.key), split.alpha);
  };
  const traces = data.map((trace) => {
    const copy = { ...trace };
    if (trace.line) copy.line = { ...trace.line, color: recolor(trace.line.color), width: trace.line.width ? trace.line.width * 1.4 : trace.line.width };
    if (trace.marker && typeof trace.marker.color === "string") copy.marker = { ...trace.marker, color: recolor(trace.marker.color) };
    if (trace.fillcolor) copy.fillcolor = recolor(trace.fillcolor);
    return copy;
  });
  const styled = {
    ...layout,
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    font: { ...(layout.font || {}), ...FONT },
    colorway: OKABE_ITO,
    legend: { ...(layout.legend || {}), font: { ...FONT, size: 14 } },
  };
  for (const key of Object.keys(layout)) {
    if (!/^[xy]axis\d*$/.test(key)) continue;
    const axis = layout[key] || {};
    styled[key] = {
      ...axis, showgrid: false, zeroline: false, showline: true, linecolor: "#000000", linewidth: 1,
      ticks: "outside", tickcolor: "#000000", color: "#000000", tickfont: { ...FONT, size: 14 },
      title: axis.title ? { ...axis.title, font: { ...FONT, size: 16 } } : axis.title,
    };
  }
  return { data: traces, layout: styled };
}

// Plotly escapes nothing in names itself; the dashboard writes user text as entities (escapePlotlyText).
function plain(text) {
  return text == null ? "" : String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

const drawn = (trace) => trace.visible !== false && trace.visible !== "legendonly";

function at(values, i) {
  return Array.isArray(values) || ArrayBuffer.isView(values) ? values[i] : values;
}

// The chart's data as CSV, exactly the traces it draws (hidden ones left out):
// - lines and bars: one row per point, `run_or_group, run_id, series, kind, x, y` (+ the error bar's
//   low and high ends where a trace has one). A point's run or group is its own label where a trace
//   joins several (the hover text), else the trace's group or name.
// - heatmaps: `x, y, value` per cell; parallel coordinates: one row per run, a column per axis.
export function chartCsv(data) {
  const traces = data.filter(drawn);
  const rows = [];
  if (traces.length && traces.every((t) => t.type === "heatmap")) {
    rows.push(["x", "y", "value"]);
    for (const trace of traces) trace.z.forEach((row, j) => row.forEach((z, i) => rows.push([plain(trace.x[i]), plain(trace.y[j]), z])));
  } else if (traces.length && traces.every((t) => t.type === "parcoords")) {
    const dimensions = traces[0].dimensions;
    rows.push(dimensions.map((d) => plain(d.label)));
    const text = dimensions.map((d) => (d.ticktext ? (v) => plain(d.ticktext[v]) : (v) => v));
    for (let i = 0; i < dimensions[0].values.length; i++) rows.push(dimensions.map((d, k) => text[k](d.values[i])));
  } else {
    const errors = traces.some((t) => t.error_y?.array);
    rows.push(["run_or_group", "run_id", "series", "kind", "x", "y", ...(errors ? ["y_low", "y_high"] : [])]);
    for (const trace of traces) {
      const meta = trace.meta || {};
      const series = meta.series || meta.metric || plain(trace.name);
      const kind = meta.kind || (trace.type === "bar" ? "bar" : "line");
      for (let i = 0; i < trace.x.length; i++) {
        const x = trace.x[i];
        const y = trace.y[i];
        if (x == null && y == null) continue; // the gap between two joined runs
        const pointLabel = at(trace.text, i) || (typeof at(trace.customdata, i) === "string" ? at(trace.customdata, i) : null);
        const label = plain(pointLabel || meta.group || trace.name);
        const row = [label, meta.runId ?? "", series, kind, plain(x), y];
        if (errors) {
          const plus = at(trace.error_y?.array, i);
          const minus = at(trace.error_y?.arrayminus, i) ?? plus;
          row.push(y != null && minus != null ? y - minus : "", y != null && plus != null ? y + plus : "");
        }
        rows.push(row);
      }
    }
  }
  return rows.map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}

export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = filename;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function dataUrlBlob(url) {
  const comma = url.indexOf(",");
  const head = url.slice(5, comma);
  const type = head.split(";")[0];
  if (head.endsWith(";base64")) {
    const bytes = Uint8Array.from(atob(url.slice(comma + 1)), (c) => c.charCodeAt(0));
    return new Blob([bytes], { type });
  }
  return new Blob([decodeURIComponent(url.slice(comma + 1))], { type });
}

export function chartName(gd) {
  return `reglab-${gd.dataset?.chart || gd.id || "chart"}`;
}

// PNG at twice the chart's size on screen, or SVG, in publication style when the toggle is on.
export async function exportImage(gd, format, filename = chartName(gd)) {
  const width = gd._fullLayout?.width || 900;
  const height = gd._fullLayout?.height || 450;
  const figure = styleOn() ? publicationFigure(gd.data, gd.layout) : { data: gd.data, layout: gd.layout };
  const url = await Plotly.toImage({ data: figure.data, layout: { ...figure.layout, width, height } },
    { format, width, height, scale: format === "png" ? 2 : 1 });
  saveBlob(dataUrlBlob(url), `${filename}.${format}`);
}

const ICONS = {
  svg: { width: 24, height: 24, path: "M4 3h10l6 6v12H4z M14 3v6h6 M7 17l2-5 2 5 M8 15.5h2 M13 12h3l-3 5h3" },
  csv: { width: 24, height: 24, path: "M3 4h18v16H3z M3 9h18 M3 14h18 M9 4v16 M15 4v16" },
  style: { width: 24, height: 24, path: "M12 3a9 9 0 1 0 0 18c1 0 1.5-.7 1.5-1.5 0-.9-.8-1.2-.8-2 0-.8.6-1.5 1.5-1.5H17a4 4 0 0 0 4-4c0-5-4-9-9-9z M7 12a1.5 1.5 0 1 0 0-.1z M10 7.5a1.5 1.5 0 1 0 0-.1z M15 7.5a1.5 1.5 0 1 0 0-.1z" },
};

export function exportButtons() {
  return [
    { name: "reglab-png", title: "Download PNG (2×)", icon: Plotly.Icons.camera, click: (gd) => exportImage(gd, "png") },
    { name: "reglab-svg", title: "Download SVG", icon: ICONS.svg, click: (gd) => exportImage(gd, "svg") },
    { name: "reglab-csv", title: "Download data as CSV", icon: ICONS.csv, click: (gd) => saveBlob(new Blob([chartCsv(gd.data)], { type: "text/csv" }), `${chartName(gd)}.csv`) },
    { name: "reglab-style", title: `${STYLE_TITLE}: ${styleOn() ? "on" : "off"}`, icon: ICONS.style, click: () => setPublicationStyle(!styleOn()) },
  ];
}

// The config of every chart: the export menu in place of Plotly's own PNG button.
export function plotConfig(extra = {}) {
  return {
    responsive: true,
    displaylogo: false,
    ...extra,
    modeBarButtonsToRemove: ["toImage", ...(extra.modeBarButtonsToRemove || [])],
    modeBarButtonsToAdd: exportButtons(),
  };
}
