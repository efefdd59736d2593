// Compare page: /compare?run_ids=1,2,3&smooth=0.6&logy=1&x=time&hidden=2&legend=1
// The runs table is the shared legend (colour swatch, show/hide per run);
// Plotly's own legends repeat it on every chart, so they are off by default.
// The URL is the state, so a view can be shared by link. Data: GET /api/compare.

import { buildQuery, getComparison } from "./api.js";
import { ChartBoard, EPOCH_SERIES, STEP_SERIES, followColorScheme } from "./charts.js";
import { el, formatNumber, formatPercent, formatValue, renderStateBadge, setJsonTwin, showStatus } from "./dom.js";
import { isActiveState, openRunStream } from "./live.js";

const STEP_MAX_POINTS = 600;
const SUMMARY_COLUMNS = [
  ["best_val_accuracy", "best val acc", formatPercent],
  ["best_epoch", "best epoch", formatNumber],
  ["final_val_accuracy", "final val acc", formatPercent],
  ["test_accuracy", "test acc", formatPercent],
  ["mc_test_accuracy", "MC test acc", formatPercent],
];

export function readSettings(search = location.search) {
  const params = new URLSearchParams(search);
  const ids = (params.get("run_ids") || "").split(",").map(Number).filter((id) => Number.isInteger(id) && id > 0);
  return {
    runIds: [...new Set(ids)],
    smooth: clamp(Number(params.get("smooth") || 0), 0, 0.95),
    logY: params.get("logy") === "1",
    xAxis: params.get("x") === "time" ? "time" : "epoch",
    legend: params.get("legend") === "1",
    hidden: new Set((params.get("hidden") || "").split(",").filter(Boolean).map(Number)),
  };
}

function clamp(value, low, high) {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : low;
}

export function writeSettings(settings) {
  const params = new URLSearchParams();
  params.set("run_ids", settings.runIds.join(","));
  if (settings.smooth) params.set("smooth", String(settings.smooth));
  if (settings.logY) params.set("logy", "1");
  if (settings.xAxis !== "epoch") params.set("x", settings.xAxis);
  if (settings.legend) params.set("legend", "1");
  if (settings.hidden.size) params.set("hidden", [...settings.hidden].join(","));
  // replaceState: settings tweaks should not flood the back button.
  history.replaceState(null, "", `/compare?${params.toString().replace(/%2C/g, ",")}`);
}

function fetchComparison(runIds) {
  return getComparison({ run_ids: runIds, names: [...EPOCH_SERIES, ...STEP_SERIES, "epoch_time"], max_points: STEP_MAX_POINTS });
}

function renderDiffTable(table, data, board) {
  const fields = Object.keys(data.params_diff || {});
  const head = el("tr", {}, el("th", { scope: "col", class: "check" }, el("span", { class: "visually-hidden" }, "Shown")),
    el("th", { scope: "col" }, "Run"), el("th", { scope: "col" }, "State"),
    fields.map((field) => el("th", { scope: "col", class: "mono" }, field)),
    SUMMARY_COLUMNS.map(([, label]) => el("th", { scope: "col", class: "num" }, label)));
  const rows = data.runs.map((run) => el("tr", { dataset: { runId: run.id } },
    el("td", { class: "check" }, el("input", {
      type: "checkbox", class: "show-run", checked: !board.settings.hidden.has(run.id),
      "aria-label": `Show ${run.name} on the charts`, onchange: () => board.onLegendToggle?.(run.id),
    })),
    el("th", { scope: "row" }, el("span", { class: "swatch", style: `background:${board.colorOf.get(run.id) || "transparent"}` }),
      el("a", { href: `/runs/${run.id}` }, run.name)),
    el("td", { class: "state-cell" }, renderStateBadge(run.state)),
    fields.map((field) => renderDiffCell(data.params_diff[field][run.id])),
    SUMMARY_COLUMNS.map(([key, , format]) => el("td", { class: "num", dataset: { key } }, format(run.summary[key])))));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
}

// A field a run does not have (another schedule kind's parameter) reads as a dash.
function renderDiffCell(value) {
  return value == null ? el("td", { class: "mono muted" }, "–") : el("td", { class: "mono" }, formatValue(value));
}

function updateRunState(table, message) {
  const row = table.querySelector(`tr[data-run-id="${message.run_id}"] .state-cell`);
  if (row) row.replaceChildren(renderStateBadge(message.state));
}

function bindControls(board, settings) {
  const smooth = document.getElementById("smooth");
  const smoothValue = document.getElementById("smooth-value");
  const logY = document.getElementById("logy");
  const xAxis = document.getElementById("x-axis");
  const legend = document.getElementById("legend");
  smooth.value = settings.smooth;
  smoothValue.textContent = settings.smooth;
  logY.checked = settings.logY;
  xAxis.value = settings.xAxis;
  legend.checked = settings.legend;
  const apply = () => {
    settings.smooth = Number(smooth.value);
    smoothValue.textContent = smooth.value;
    settings.logY = logY.checked;
    settings.xAxis = xAxis.value;
    settings.legend = legend.checked;
    writeSettings(settings);
    board.refresh();
  };
  smooth.addEventListener("input", apply);
  for (const control of [logY, xAxis, legend]) control.addEventListener("change", apply);
  document.getElementById("show-all").addEventListener("click", () => {
    board.setHidden(new Set());
    writeSettings(settings);
    syncShownBoxes(settings);
  });
  // The server writes the CSV: every stored point, not the charts' downsample, formula-like text quoted.
  document.getElementById("export-csv").addEventListener("click", () => {
    const anchor = el("a", { href: `/api/compare/csv${buildQuery({ run_ids: settings.runIds })}`, download: "" });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
  });
  board.onLegendToggle = (runId) => {
    const hidden = new Set(settings.hidden);
    if (hidden.has(runId)) hidden.delete(runId);
    else hidden.add(runId);
    board.setHidden(hidden);
    writeSettings(settings);
    syncShownBoxes(settings);
  };
}

function syncShownBoxes(settings) {
  for (const row of document.querySelectorAll("#diff-table tbody tr")) {
    row.querySelector("input.show-run").checked = !settings.hidden.has(Number(row.dataset.runId));
  }
}

async function resyncBoard(board, table, runIds) {
  const data = await fetchComparison(runIds);
  for (const run of data.runs) {
    const series = data.series[run.id] || data.series[String(run.id)] || {};
    const from = {};
    for (const name of Object.keys(series)) from[name] = board.store.get(run.id)?.[name]?.x.length || 0;
    board.mergeSeries(run.id, series);
    // Only series that actually grew are extended.
    for (const name of Object.keys(from)) if ((board.store.get(run.id)[name]?.x.length || 0) === from[name]) delete from[name];
    if (Object.keys(from).length) board.extendCharts(run.id, from);
  }
  renderDiffTable(table, data, board);
}

async function main() {
  const settings = readSettings();
  const table = document.getElementById("diff-table");
  const container = document.getElementById("charts");
  setJsonTwin(`/api/compare?run_ids=${settings.runIds.join(",")}`);
  if (!settings.runIds.length) {
    showStatus("Select runs on the Runs page and press Compare, or open /compare?run_ids=1,2,3.");
    return;
  }
  showStatus("Loading…");
  let data;
  try {
    data = await fetchComparison(settings.runIds);
  } catch (error) {
    showStatus(`Could not load the comparison: ${error.message}`, "error");
    return;
  }
  const board = new ChartBoard(container, data.runs, settings);
  window.reglabBoard = board;
  for (const run of data.runs) board.mergeSeries(run.id, data.series[run.id] || data.series[String(run.id)]);
  renderDiffTable(table, data, board);
  board.render();
  bindControls(board, settings);
  followColorScheme(board);
  showStatus(`${data.runs.length} runs · hover a curve for its run and value; untick a run to hide it`);
  document.body.dataset.ready = "1";
  const live = document.getElementById("live");
  const active = data.runs.filter((run) => isActiveState(run.state)).map((run) => run.id);
  if (!active.length) {
    live.textContent = "idle";
    return;
  }
  openRunStream(active, {
    onPoints: (message) => board.extendWithPoints(message.run_id, message.points),
    onState: (message) => {
      updateRunState(table, message);
      // A finished run has its summary (best / test accuracy) now: refetch and merge.
      if (!isActiveState(message.state)) resyncBoard(board, table, settings.runIds).catch(() => {});
    },
    onResync: () => resyncBoard(board, table, settings.runIds).catch((error) => showStatus(error.message, "error")),
    onStatus: (state) => {
      live.dataset.state = state;
      live.textContent = state;
    },
  });
}

main();
