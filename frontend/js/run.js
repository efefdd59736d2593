// Run page (/runs/{id}): spec, state, error, progress, summary, layer table,
// model download and live curves. Data: GET /api/runs/{id} (its JSON twin),
// /api/runs/{id}/metrics, /api/runs/{id}/summary and /api/runs/{id}/layers (runlayers.js).

import { getMetrics, getRun, getRunSummary } from "./api.js";
import { ChartBoard, EPOCH_SERIES, STEP_SERIES, followColorScheme } from "./charts.js";
import { el, formatDate, formatDuration, formatNumber, formatPercent, formatValue, renderProgress, renderStateBadge, setJsonTwin, showStatus } from "./dom.js";
import { isActiveState, openRunStream } from "./live.js";
import { RunLayers } from "./runlayers.js";

const SUMMARY_FIELDS = [
  ["best_val_accuracy", "best val accuracy", formatPercent],
  ["best_epoch", "best epoch", formatNumber],
  ["final_val_accuracy", "final val accuracy", formatPercent],
  ["test_accuracy", "test accuracy", formatPercent],
  ["test_loss", "test loss", formatNumber],
  ["mc_test_accuracy", "MC-dropout test accuracy", formatPercent],
  ["mc_predictive_std", "MC predictive std", formatNumber],
  ["param_count", "parameters", formatNumber],
];

function readRunId() {
  const match = location.pathname.match(/\/runs\/(\d+)/);
  return match ? Number(match[1]) : null;
}

function renderFacts(list, pairs) {
  list.replaceChildren(...pairs.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function renderRun(run) {
  document.title = `${run.name} · RegLab`;
  document.getElementById("run-title").textContent = run.name;
  document.getElementById("run-state").replaceChildren(renderStateBadge(run.state));
  document.getElementById("run-progress").replaceChildren(renderProgress(run));
  const errorBox = document.getElementById("run-error");
  errorBox.hidden = !run.error;
  errorBox.textContent = run.error || "";
  renderFacts(document.getElementById("run-times"), [
    ["experiment", el("a", { href: `/?experiment_id=${run.experiment_id}` }, run.experiment_name ? `#${run.experiment_id} ${run.experiment_name}` : `#${run.experiment_id}`)],
    ["created", formatDate(run.created_at)],
    ["started", formatDate(run.started_at)],
    ["finished", formatDate(run.finished_at)],
    ["duration", run.started_at && run.finished_at ? formatDuration((new Date(run.finished_at) - new Date(run.started_at)) / 1000) : "–"],
    ["seconds / epoch", formatNumber(run.epoch_seconds)],
    ["worker", [run.worker_host, run.device].filter(Boolean).join(" · ") || "–"],
  ]);
  const summary = run.summary;
  renderFacts(document.getElementById("run-summary"), SUMMARY_FIELDS.filter(([key]) => key in summary).map(([key, label, format]) => [label, format(summary[key])]));
  if (!Object.keys(summary).length) document.getElementById("run-summary").replaceChildren(el("p", { class: "muted" }, "Filled in when the run finishes."));
  const model = document.getElementById("model-link");
  model.hidden = run.state !== "completed";
  model.href = `/api/runs/${run.id}/model`;
  document.getElementById("compare-link").href = `/compare?run_ids=${run.id}`;
}

function renderSpec(spec) {
  const sections = Object.entries(spec || {}).filter(([, value]) => value && typeof value === "object");
  document.getElementById("run-spec").replaceChildren(...sections.map(([section, values]) =>
    el("details", { open: true }, el("summary", {}, section),
      el("dl", { class: "facts spec-facts" }, Object.entries(values).flatMap(([key, value]) => [el("dt", { class: "mono" }, key), el("dd", { class: "mono" }, formatValue(value))])))));
}

function renderLayers(summary) {
  const table = document.getElementById("layer-table");
  const layers = summary?.layers || [];
  if (!layers.length) {
    table.replaceChildren(el("caption", {}, "The layer table appears once the model is built."));
    return;
  }
  table.replaceChildren(
    el("thead", {}, el("tr", {}, ["Layer", "Type", "Output shape", "Parameters"].map((label, i) => el("th", { scope: "col", class: i === 3 ? "num" : "" }, label)))),
    el("tbody", {}, layers.map((layer) => el("tr", {},
      el("td", { class: "mono" }, layer.name), el("td", {}, layer.class_name),
      el("td", { class: "mono" }, formatValue(layer.output_shape)), el("td", { class: "num" }, formatNumber(layer.params))))),
    el("tfoot", {},
      el("tr", {}, el("th", { scope: "row", colspan: "3" }, "Total"), el("td", { class: "num" }, formatNumber(summary.total_params))),
      el("tr", {}, el("th", { scope: "row", colspan: "3" }, "Trainable"), el("td", { class: "num" }, formatNumber(summary.trainable_params)))));
}

// The section says "no layer statistics" when the run has none (or the server cannot tell).
async function loadLayers(section) {
  try {
    await section.load();
  } catch {
    section.setData({ layers: [], snapshots: [] });
  }
  section.root.dataset.loaded = "1";
}

async function main() {
  const runId = readRunId();
  setJsonTwin(`/api/runs/${runId}`);
  let run;
  try {
    run = await getRun(runId);
  } catch (error) {
    showStatus(error.status === 404 ? `Run ${runId} does not exist.` : error.message, "error");
    return;
  }
  renderRun(run);
  renderSpec(run.spec);
  // The layer table exists once the worker has built the model.
  if (run.state === "queued") renderLayers(null);
  else getRunSummary(runId).then(renderLayers, () => renderLayers(null));
  const layerStats = new RunLayers(document.getElementById("layer-stats"), runId);
  window.reglabLayers = layerStats;
  const layersLoaded = loadLayers(layerStats);
  const metrics = await getMetrics(runId, { names: [...EPOCH_SERIES, ...STEP_SERIES], max_points: 800 });
  const board = new ChartBoard(document.getElementById("charts"), [run], { smooth: 0, logY: false, xAxis: "epoch", legend: false, hidden: new Set(), showSteps: isActiveState(run.state) });
  board.mergeSeries(run.id, metrics.series);
  // A zoom on the step chart fetches its x range at full resolution (up to 800 points a series).
  board.fetchRange = async (names, xMin, xMax) =>
    ({ [run.id]: (await getMetrics(runId, { names, max_points: 800, x_min: xMin, x_max: xMax })).series });
  board.render();
  followColorScheme(board);
  window.reglabBoard = board;
  await layersLoaded;
  document.body.dataset.ready = "1";
  const live = document.getElementById("live");
  if (!isActiveState(run.state)) {
    live.textContent = "idle";
    return;
  }
  openRunStream([runId], {
    onPoints: (message) => {
      board.extendWithPoints(runId, message.points);
      const epochs = message.points.filter((point) => point.axis === "epoch").map((point) => point.x);
      if (epochs.length) {
        run.epoch = Math.max(run.epoch || 0, Math.max(...epochs) + 1);
        run.state = "running";
        renderRun(run);
      }
    },
    onLayers: (message) => {
      layerStats.addEpoch(message.epoch).catch(() => {}); // a missed epoch comes back with the next resync
    },
    onState: async (message) => {
      Object.assign(run, await getRun(runId));
      renderRun(run);
      if (!isActiveState(run.state)) getRunSummary(runId).then(renderLayers, () => {});
    },
    onResync: async () => {
      Object.assign(run, await getRun(runId));
      renderRun(run);
      loadLayers(layerStats);
      const fresh = await getMetrics(runId, { names: [...EPOCH_SERIES, ...STEP_SERIES], max_points: 800 });
      for (const [name, series] of Object.entries(fresh.series)) {
        const from = board.store.get(runId)[name]?.x.length || 0;
        board.mergeSeries(runId, { [name]: series });
        if ((board.store.get(runId)[name]?.x.length || 0) > from) board.extendCharts(runId, { [name]: from });
      }
    },
    onStatus: (state) => {
      live.dataset.state = state;
      live.textContent = state;
    },
  });
}

main();
