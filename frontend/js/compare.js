// Compare page: /compare?run_ids=1,2,3&smooth=0.6&logy=1&x=time&hidden=2&legend=1
// Grouped: &group=auto (or none, or spec fields)&band=std&metric=test_accuracy&baseline=...&runs=0&sort=-p
// Layers tab: &view=layers&ltensor=activations&lstat=std&llayer=dense_1&lepoch=3&hlog=1&plog=1 (comparelayers.js)
// The runs table is the shared legend (colour swatch, show/hide per run);
// Plotly's own legends repeat it on every chart, so they are off by default.
// The URL is the state, so a view can be shared by link. Data: GET /api/compare.

/* global Plotly */

import { buildQuery, getComparison } from "./api.js";
import { ChartBoard, EPOCH_SERIES, STEP_SERIES, downloadText, followColorScheme } from "./charts.js";
import { GroupBoard } from "./groups.js";
import { analysisCsv, fillMetricSelect, renderResultsTable } from "./results.js";
import { el, formatNumber, formatPercent, formatValue, renderStateBadge, setJsonTwin, showStatus } from "./dom.js";
import { isActiveState, openRunStream } from "./live.js";
import { CompareLayers } from "./comparelayers.js";
import { TENSORS } from "./layerdata.js";

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
    group: params.get("group") || "none",
    band: params.get("band") === "std" ? "std" : "ci95",
    metric: params.get("metric") || "",
    baseline: params.get("baseline") || "",
    showRuns: params.get("runs") !== "0",
    sort: readSort(params.get("sort")),
    view: params.get("view") === "layers" ? "layers" : "curves",
    layerTensor: TENSORS.includes(params.get("ltensor")) ? params.get("ltensor") : "weights",
    layerStat: params.get("lstat") || "std",
    layerName: params.get("llayer") || "",
    layerEpoch: /^-?\d+$/.test(params.get("lepoch") || "") ? params.get("lepoch") : "last",
    histLog: params.get("hlog") === "1",
    profileLog: params.get("plog") === "1",
  };
}

export function readSort(text) {
  if (!text) return null;
  return { key: text.replace(/^-/, ""), desc: text.startsWith("-") };
}

const writeSort = (sort) => (sort ? `${sort.desc ? "-" : ""}${sort.key}` : "");

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
  if (settings.group && settings.group !== "none") params.set("group", settings.group);
  if (settings.band !== "ci95") params.set("band", settings.band);
  if (settings.metric) params.set("metric", settings.metric);
  if (settings.baseline) params.set("baseline", settings.baseline);
  if (!settings.showRuns) params.set("runs", "0");
  if (settings.sort) params.set("sort", writeSort(settings.sort));
  if (settings.view === "layers") params.set("view", "layers");
  if (settings.layerTensor && settings.layerTensor !== "weights") params.set("ltensor", settings.layerTensor);
  if (settings.layerStat && settings.layerStat !== "std") params.set("lstat", settings.layerStat);
  if (settings.layerName) params.set("llayer", settings.layerName);
  if (settings.layerEpoch && settings.layerEpoch !== "last") params.set("lepoch", settings.layerEpoch);
  if (settings.histLog) params.set("hlog", "1");
  if (settings.profileLog) params.set("plog", "1");
  // replaceState: settings tweaks should not flood the back button.
  history.replaceState(null, "", `/compare?${params.toString().replace(/%2C/g, ",")}`);
}

function fetchComparison(runIds, settings = null) {
  const params = { run_ids: runIds, names: [...EPOCH_SERIES, ...STEP_SERIES, "epoch_time"], max_points: STEP_MAX_POINTS };
  if (settings && settings.group !== "none") {
    Object.assign(params, { group_by: settings.group, band: settings.band, metric: settings.metric || null, baseline: settings.baseline || null });
  }
  return getComparison(params);
}

const isGrouped = (settings) => settings.group && settings.group !== "none";

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

// Group by: none, auto (what differs except the replicate fields) or chosen fields, one checkbox each.
function fillGroupBy(select, data, settings) {
  const fields = Object.keys(data.params_diff || {});
  const chosen = isGrouped(settings) && settings.group !== "auto" ? settings.group.split(",") : [];
  select.replaceChildren(el("option", { value: "none" }, "none"), el("option", { value: "auto" }, "auto (all but seeds)"),
    el("option", { value: "fields" }, "fields…"));
  select.value = chosen.length ? "fields" : settings.group === "auto" ? "auto" : "none";
  const box = document.getElementById("group-fields");
  const known = [...new Set([...fields, ...chosen])];
  box.replaceChildren(...known.map((field) => el("label", { class: "mono small" },
    el("input", { type: "checkbox", value: field, checked: chosen.includes(field), class: "group-field" }), ` ${field}`)));
  box.hidden = select.value !== "fields";
}

function renderResults(data, board, settings) {
  const section = document.getElementById("results");
  section.hidden = !isGrouped(settings);
  if (!isGrouped(settings)) return;
  const analysis = data.analysis;
  fillMetricSelect(document.getElementById("metric"), analysis, settings.metric || analysis.metric);
  const metric = document.getElementById("metric").value;
  document.getElementById("results-reason").textContent = [analysis.reason, analysis.running ? `${analysis.running} runs still running: counted with the epochs they have` : null,
    analysis.baseline ? `baseline: ${analysis.baseline}` : null].filter(Boolean).join(" · ");
  renderResultsTable(document.getElementById("results-table"), analysis, {
    metric, sort: settings.sort, colorOf: board.groupColor,
    onSort: (key) => {
      settings.sort = settings.sort?.key === key ? { key, desc: !settings.sort.desc } : { key, desc: false };
      writeSettings(settings);
      renderResults(board.data, board, settings);
    },
  });
}

function bindGroupControls(board, settings) {
  const reload = () => {
    writeSettings(settings);
    location.reload();
  };
  document.getElementById("group-by").addEventListener("change", (event) => {
    if (event.target.value === "fields") {
      // Nothing is grouped until a field is ticked.
      document.getElementById("group-fields").hidden = false;
      return;
    }
    settings.group = event.target.value;
    settings.baseline = "";
    reload();
  });
  document.getElementById("group-fields").addEventListener("change", () => {
    const checked = [...document.querySelectorAll("#group-fields input.group-field:checked")].map((box) => box.value);
    settings.group = checked.length ? checked.join(",") : "auto";
    settings.baseline = "";
    reload();
  });
  const band = document.getElementById("band");
  band.value = settings.band;
  band.addEventListener("change", () => {
    settings.band = band.value;
    reload();
  });
  const showRuns = document.getElementById("show-runs");
  showRuns.checked = settings.showRuns;
  showRuns.addEventListener("change", () => {
    settings.showRuns = showRuns.checked;
    writeSettings(settings);
    board.refresh?.();
  });
  document.getElementById("metric").addEventListener("change", (event) => {
    settings.metric = event.target.value;
    writeSettings(settings);
    renderResults(board.data, board, settings);
  });
  document.getElementById("export-analysis-csv").addEventListener("click", () =>
    downloadText(analysisCsv(board.data.analysis), `reglab-analysis-${settings.runIds.join("-")}.csv`));
  document.getElementById("export-analysis-json").addEventListener("click", () =>
    downloadText(JSON.stringify(board.data.analysis, null, 2), `reglab-analysis-${settings.runIds.join("-")}.json`, "application/json"));
}

// Grouped charts follow live points by refetching the server's aggregation, at most every 2 s.
function throttledRegroup(board, table, settings) {
  let timer = null;
  let last = 0;
  const run = async () => {
    timer = null;
    last = performance.now();
    const data = await fetchComparison(settings.runIds, settings);
    board.setData(data);
    board.refresh();
    renderDiffTable(table, data, board);
    renderResults(data, board, settings);
  };
  return () => {
    if (timer) return;
    timer = setTimeout(() => run().catch((error) => showStatus(error.message, "error")), Math.max(0, 2000 - (performance.now() - last)));
  };
}

// The Curves / Layers tabs. The Layers tab asks for its data the first time it is shown.
function setupLayersTab(board, settings) {
  const colors = { run: (runId) => board.colorOf.get(runId), group: (label) => board.groupColor?.get(label) };
  const layers = new CompareLayers(document.getElementById("layers-view"), settings, colors, () => writeSettings(settings));
  window.reglabLayers = layers;
  let loaded = false;
  const show = (view) => {
    settings.view = view;
    writeSettings(settings);
    for (const [name, tab, panel] of [["curves", "tab-curves", "curves-view"], ["layers", "tab-layers", "layers-view"]]) {
      document.getElementById(tab).setAttribute("aria-selected", String(view === name));
      document.getElementById(panel).hidden = view !== name;
    }
    if (view === "layers" && !loaded) {
      loaded = true;
      layers.reload();
    }
    // Plotly sizes a figure drawn while hidden to a default width: fit the shown ones again.
    for (const div of document.querySelectorAll(`#${view}-view .js-plotly-plot`)) Plotly.Plots.resize(div);
  };
  document.getElementById("tab-curves").addEventListener("click", () => show("curves"));
  document.getElementById("tab-layers").addEventListener("click", () => show("layers"));
  show(settings.view);
  return { onLayers: () => loaded && layers.refreshSoon() };
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

// The module is async: it may run before the document is parsed or the deferred
// Plotly has run (readyState turns "interactive" before deferred scripts run).
// Both are done once Plotly is defined, or at DOMContentLoaded.
const documentReady = new Promise((resolve) => {
  if (window.Plotly) resolve();
  else document.addEventListener("DOMContentLoaded", resolve, { once: true });
});

async function main() {
  const settings = readSettings();
  // Asked for first, so the server works while Plotly is parsed; awaited (and its error shown) below.
  const request = settings.runIds.length ? fetchComparison(settings.runIds, settings) : null;
  request?.catch(() => {});
  await documentReady;
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
    data = await request;
  } catch (error) {
    showStatus(`Could not load the comparison: ${error.message}`, "error");
    return;
  }
  fillGroupBy(document.getElementById("group-by"), data, settings);
  if (isGrouped(settings)) {
    setJsonTwin(`/api/compare?run_ids=${settings.runIds.join(",")}&group_by=${encodeURIComponent(settings.group)}&band=${settings.band}`);
    mainGrouped(data, settings, table, container);
    return;
  }
  const board = new ChartBoard(container, data.runs, settings);
  // Live runs get their step chart up front: drawing it when the first step
  // points arrive would stall the stream for a whole redraw of every run.
  board.settings.showSteps = data.runs.some((run) => isActiveState(run.state));
  // A zoom on the step chart fetches its x range at full resolution (up to STEP_MAX_POINTS a series).
  board.fetchRange = async (names, xMin, xMax) =>
    (await getComparison({ run_ids: settings.runIds, names, max_points: STEP_MAX_POINTS, x_min: xMin, x_max: xMax })).series;
  window.reglabBoard = board;
  for (const run of data.runs) board.mergeSeries(run.id, data.series[run.id] || data.series[String(run.id)]);
  renderDiffTable(table, data, board);
  board.render();
  bindControls(board, settings);
  bindGroupControls(board, settings);
  renderResults(data, board, settings);
  followColorScheme(board);
  const layersTab = setupLayersTab(board, settings);
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
    onLayers: layersTab.onLayers,
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

function mainGrouped(data, settings, table, container) {
  const board = new GroupBoard(container, settings);
  window.reglabBoard = board;
  board.setData(data);
  board.render();
  renderDiffTable(table, data, board);
  bindControls(board, settings);
  bindGroupControls(board, settings);
  renderResults(data, board, settings);
  followColorScheme(board);
  const layersTab = setupLayersTab(board, settings);
  const groups = data.analysis.groups.length;
  showStatus(`${data.runs.length} runs in ${groups} group${groups === 1 ? "" : "s"} · untick a run to hide its faint line`);
  document.body.dataset.ready = "1";
  const live = document.getElementById("live");
  const active = data.runs.filter((run) => isActiveState(run.state)).map((run) => run.id);
  if (!active.length) {
    live.textContent = "idle";
    return;
  }
  const regroup = throttledRegroup(board, table, settings);
  openRunStream(active, {
    onPoints: regroup,
    onLayers: layersTab.onLayers,
    onState: (message) => {
      updateRunState(table, message);
      regroup();
    },
    onResync: regroup,
    onStatus: (state) => {
      live.dataset.state = state;
      live.textContent = state;
    },
  });
}

main();
