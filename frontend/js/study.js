// Study page: /experiments/{id}?metric=test_accuracy&baseline=...&band=std&sort=-p
// The study's report: its grid and progress, the results table, the regularization
// path, the best condition with its margin, links to Compare grouped. The URL is the
// view. Data: GET /api/experiments/{id} and GET /api/experiments/{id}/analysis (its JSON twin).

import { buildQuery, fetchJson } from "./api.js";
import { downloadText, pickColor } from "./charts.js";
import { el, formatValue, renderProgress, setJsonTwin, showStatus } from "./dom.js";
import { drawImportance, importanceCaption } from "./importance.js";
import { isActiveState, openRunStream } from "./live.js";
import { renderPathChart } from "./path.js";
import { analysisCsv, bestCondition, fillMetricSelect, renderBestCondition, renderResultsTable } from "./results.js";

const experimentId = Number(location.pathname.split("/").filter(Boolean)[1]);

function readView() {
  const params = new URLSearchParams(location.search);
  const sort = params.get("sort");
  return {
    metric: params.get("metric") || "",
    baseline: params.get("baseline") || "",
    band: params.get("band") === "std" ? "std" : "ci95",
    sort: sort ? { key: sort.replace(/^-/, ""), desc: sort.startsWith("-") } : null,
  };
}

function writeView(view) {
  const params = new URLSearchParams();
  if (view.metric) params.set("metric", view.metric);
  if (view.baseline) params.set("baseline", view.baseline);
  if (view.band !== "ci95") params.set("band", view.band);
  if (view.sort) params.set("sort", `${view.sort.desc ? "-" : ""}${view.sort.key}`);
  const query = params.toString();
  history.replaceState(null, "", `/experiments/${experimentId}${query ? `?${query}` : ""}`);
}

function analysisUrl(view) {
  return `/api/experiments/${experimentId}/analysis${buildQuery({ metric: view.metric || null, baseline: view.baseline || null, band: view.band })}`;
}

// A search study lists its space: each field's range or choices, sampled by Optuna.
function searchRows(search) {
  return Object.entries(search.space).map(([key, dim]) => {
    const [kind, values] = Object.entries(dim).find(([, v]) => v !== null);
    const text = kind === "choice" ? values.map(formatValue).join(", ") : `${kind.replace("_", "-")} [${values.map(formatValue).join(", ")}]`;
    return el("tr", {}, el("th", { scope: "row", class: "mono" }, key), el("td", { class: "mono" }, text), el("td", {}, "searched"));
  });
}

function renderGrid(experiment) {
  const rows = experiment.search ? searchRows(experiment.search) : Object.entries(experiment.grid || {}).map(([key, values]) =>
    el("tr", {}, el("th", { scope: "row", class: "mono" }, key), el("td", { class: "mono" }, values.map(formatValue).join(", ")),
      el("td", {}, (experiment.replicates || []).includes(key) ? "replicate" : "factor")));
  document.getElementById("grid-table").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Field"), el("th", { scope: "col" }, "Values"), el("th", { scope: "col" }, "Role"))),
    el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: 3, class: "muted" }, "No grid: one run."))]));
  const counts = {};
  for (const run of experiment.runs) counts[run.state] = (counts[run.state] || 0) + 1;
  const epochs = experiment.runs.reduce((sum, run) => sum + (run.epochs || 0), 0);
  const done = experiment.runs.reduce((sum, run) => sum + Math.min(run.epoch || 0, run.epochs || 0), 0);
  document.getElementById("study-progress").replaceChildren(
    renderProgress({ epoch: done, epochs, state: "completed" }),
    el("span", {}, `${experiment.runs.length} runs: ` + Object.entries(counts).map(([state, n]) => `${n} ${state}`).join(", ")),
    experiment.search ? el("span", { class: "muted" }, ` · ${experiment.search.method} search, ${experiment.search.trials} trials, objective ${experiment.search.objective.metric}`) : "",
    experiment.pruner ? el("span", { id: "epochs-saved" }, ` · ${experiment.pruner.name} pruning on ${experiment.pruner.metric} saved ${experiment.pruned_epochs_saved} GPU-epochs`) : "");
}

const IMPORTANCE_METRICS = ["best_val_accuracy", "final_val_accuracy", "best_val_loss", "final_val_loss", "final_accuracy", "final_loss", "test_accuracy", "test_loss"];

// Bar chart of GET /api/experiments/{id}/importance (PED-ANOVA), or why there is none.
async function renderImportance(metric) {
  const chosen = IMPORTANCE_METRICS.includes(metric) ? metric : "best_val_accuracy";
  const result = await fetchJson(`/api/experiments/${experimentId}/importance${buildQuery({ metric: chosen })}`);
  document.getElementById("importance-reason").textContent = importanceCaption(result);
  drawImportance(document.getElementById("importance-chart"), result);
}

function render(state) {
  const { analysis, view } = state;
  fillMetricSelect(document.getElementById("metric"), analysis, view.metric || analysis.metric);
  const metric = document.getElementById("metric").value;
  const baseline = document.getElementById("baseline");
  baseline.replaceChildren(...analysis.groups.map((g) => el("option", { value: g.label }, g.label)));
  baseline.value = analysis.baseline || "";
  document.getElementById("band").value = view.band;
  const colorOf = new Map(analysis.groups.map((g) => g.label).sort().map((label, i) => [label, pickColor(i)]));
  const best = analysis.groups.length > 1 ? bestCondition(analysis, metric) : null;
  document.getElementById("results-reason").textContent = [analysis.reason,
    analysis.running ? `${analysis.running} runs still running: counted with the epochs they have` : null,
    analysis.queued ? `${analysis.queued} queued` : null,
    `replicate fields: ${analysis.replicate_fields.join(", ")}`].filter(Boolean).join(" · ");
  renderResultsTable(document.getElementById("results-table"), analysis, {
    metric, sort: view.sort, colorOf, highlight: best?.group.label,
    onSort: (key) => {
      view.sort = view.sort?.key === key ? { key, desc: !view.sort.desc } : { key, desc: false };
      writeView(view);
      render(state);
    },
  });
  renderBestCondition(document.getElementById("best-condition"), analysis, metric);
  renderPathChart(document.getElementById("path-chart"), analysis, metric);
  const runIds = analysis.runs.map((run) => run.id).slice(0, 100).join(",");
  document.getElementById("compare-link").href = `/compare?run_ids=${runIds}&group=auto&metric=${encodeURIComponent(metric)}` +
    (view.band !== "ci95" ? `&band=${view.band}` : "") + (view.baseline ? `&baseline=${encodeURIComponent(view.baseline)}` : "");
  setJsonTwin(analysisUrl(view));
  // The report shows the view as chosen here: same metric, baseline and interval.
  const report = document.getElementById("report-link");
  report.href = `/api/experiments/${experimentId}/report${buildQuery({ metric: view.metric || null, baseline: view.baseline || null, band: view.band })}`;
  report.download = `reglab-study-${experimentId}.html`;
}

async function load(state) {
  const [experiment, analysis] = await Promise.all([fetchJson(`/api/experiments/${experimentId}`), fetchJson(analysisUrl(state.view))]);
  state.experiment = experiment;
  state.analysis = analysis;
  document.getElementById("study-title").textContent = `#${experiment.id} ${experiment.name}`;
  document.title = `${experiment.name} · RegLab`;
  document.getElementById("study-description").textContent = experiment.description || "";
  renderGrid(experiment);
  render(state);
  renderImportance(document.getElementById("metric").value).catch((error) => {
    document.getElementById("importance-reason").textContent = `Importance unavailable: ${error.message}`;
  });
}

function bind(state) {
  const reload = () => {
    writeView(state.view);
    load(state).catch((error) => showStatus(error.message, "error"));
  };
  document.getElementById("metric").addEventListener("change", (event) => {
    state.view.metric = event.target.value;
    writeView(state.view);
    render(state);
    renderImportance(state.view.metric).catch(() => {});
  });
  document.getElementById("baseline").addEventListener("change", (event) => {
    state.view.baseline = event.target.value;
    reload();
  });
  document.getElementById("band").addEventListener("change", (event) => {
    state.view.band = event.target.value;
    reload();
  });
  document.getElementById("export-csv").addEventListener("click", () => downloadText(analysisCsv(state.analysis), `reglab-study-${experimentId}.csv`));
  document.getElementById("export-json").addEventListener("click", () =>
    downloadText(JSON.stringify(state.analysis, null, 2), `reglab-study-${experimentId}.json`, "application/json"));
}

// Live: the report refetches (at most every 3 s) while runs train.
function follow(state) {
  const live = document.getElementById("live");
  const active = state.experiment.runs.filter((run) => isActiveState(run.state)).map((run) => run.id).slice(0, 100);
  if (!active.length) {
    live.textContent = "idle";
    return;
  }
  let timer = null;
  const refetch = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      load(state).catch(() => {});
    }, 3000);
  };
  openRunStream(active, {
    onPoints: refetch, onState: refetch, onResync: refetch,
    onStatus: (status) => {
      live.dataset.state = status;
      live.textContent = status;
    },
  });
}

async function main() {
  const state = { view: readView() };
  window.reglabStudy = state;
  setJsonTwin(analysisUrl(state.view));
  showStatus("Loading…");
  try {
    await load(state);
  } catch (error) {
    showStatus(`Could not load the study: ${error.message}`, "error");
    return;
  }
  showStatus("");
  bind(state);
  follow(state);
  document.body.dataset.ready = "1";
}

main();
