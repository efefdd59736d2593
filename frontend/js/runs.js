// Runs page: experiments with their runs, filters in the URL
// (/?state=running&experiment_id=3&tag=l2&q=dropout&filter=metrics.best_val_accuracy%20>%200.9), multi-select -> Compare,
// cancel / clone / delete, live state and progress over SSE: every run's state and the
// runs queued anywhere from GET /api/stream/runs, the points of active runs from /api/stream.
// Data: GET /api/experiments and GET /api/runs (its JSON twin).

import { buildQuery, cancelRun, cloneRun, deleteRun, listExperiments, listRuns } from "./api.js";
import { el, formatDate, formatPercent, renderProgress, renderStateBadge, setJsonTwin, showStatus } from "./dom.js";
import { isActiveState, openRunStream, openRunsStream } from "./live.js";
import { PRESETS } from "./presets.js";

const PAGE_SIZE = 200;
const state = {
  runs: new Map(), experiments: [], selected: new Set(), stream: null, streamKey: "", runsStream: "connecting",
  // A REST answer can be older than the live messages that arrived while it was on its way:
  // liveSeq numbers live state changes and liveAt keeps each run's last, so a reload keeps
  // what came live after it was asked; loadSeq drops answers overtaken by a newer reload.
  liveSeq: 0, liveAt: new Map(), loadSeq: 0, loadedSeq: 0,
};

function readFilters() {
  const params = new URLSearchParams(location.search);
  return { state: params.get("state") || "", experiment_id: params.get("experiment_id") || "", tag: params.get("tag") || "", q: params.get("q") || "", filter: params.get("filter") || "", sort: params.get("sort") || "" };
}

function fillFilterForm(filters) {
  for (const [key, value] of Object.entries(filters)) {
    const input = document.querySelector(`#filters [name="${key}"]`);
    if (input) input.value = value;
  }
}

function fillExperimentOptions(select, experiments, current) {
  select.replaceChildren(el("option", { value: "" }, "any"), ...experiments.map((exp) => el("option", { value: String(exp.id) }, `#${exp.id} ${exp.name}`)));
  select.value = current;
}

// Reloads keep as many runs on screen as were shown, so "Load more" survives live updates.
async function loadRuns() {
  const filters = readFilters();
  const shown = Math.max(PAGE_SIZE, state.runs.size);
  setJsonTwin(`/api/runs${buildQuery({ ...filters, limit: PAGE_SIZE })}`);
  const asked = { load: ++state.loadSeq, live: state.liveSeq };
  const [experiments, page] = await Promise.all([listExperiments(), listRuns({ ...filters, limit: Math.min(shown, 500) })]);
  if (asked.load < state.loadedSeq) return;
  state.loadedSeq = asked.load;
  state.experiments = experiments.items;
  state.runs = new Map(page.items.map((run) => [run.id, keepLiveState(run, asked.live)]));
  state.total = page.total;
  fillExperimentOptions(document.getElementById("filter-experiment"), state.experiments, filters.experiment_id);
  renderExperiments(filters);
  const anyFilter = Object.entries(filters).some(([key, value]) => key !== "sort" && value);
  document.getElementById("start-here").hidden = page.total > 0 || anyFilter || state.experiments.length > 0;
  showRunCount();
  followActiveRuns();
  showLiveStatus();
  document.body.dataset.ready = "1";
}

// The indicator follows the experiments-level stream: "live" while runs train, "idle" when
// connected with nothing to follow, "reconnecting" / "offline" when the stream is down.
function showLiveStatus() {
  const live = document.getElementById("live");
  let text = state.runsStream;
  if (text === "connected") text = [...state.runs.values()].some((run) => isActiveState(run.state)) ? "live" : "idle";
  live.dataset.state = text;
  live.textContent = text;
}

// Runs appear, or change state, elsewhere: one reload (debounced) picks them up with the filters applied.
function reloadSoon(delay = 150) {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => loadRuns().catch(() => {}), delay);
}

function followAllRuns() {
  openRunsStream({
    onState: (message) => {
      if (state.runs.has(message.run_id)) applyStateMessage(message);
    },
    onRuns: (message) => {
      if (message.run_ids.some((id) => !state.runs.has(id))) reloadSoon(0);
    },
    // Whatever happened while the stream was down is in the REST answer.
    onResync: () => reloadSoon(0),
    onStatus: (status) => {
      state.runsStream = status;
      showLiveStatus();
    },
  });
}

function showRunCount() {
  const shown = state.runs.size;
  showStatus(state.total > shown ? `Showing the newest ${shown} of ${state.total} runs` : `${state.total} runs`);
  document.getElementById("load-more").hidden = state.total <= shown;
}

// The next page, newest first after the ones shown.
async function loadMoreRuns() {
  const page = await listRuns({ ...readFilters(), limit: PAGE_SIZE, offset: state.runs.size });
  for (const run of page.items) state.runs.set(run.id, run);
  state.total = page.total;
  renderExperiments(readFilters());
  showRunCount();
  followActiveRuns();
}

function renderExperiments(filters) {
  const container = document.getElementById("experiments");
  const byExperiment = new Map();
  for (const run of state.runs.values()) {
    if (!byExperiment.has(run.experiment_id)) byExperiment.set(run.experiment_id, []);
    byExperiment.get(run.experiment_id).push(run);
  }
  const known = new Map(state.experiments.map((exp) => [exp.id, exp]));
  const ids = [...byExperiment.keys()].sort((a, b) => b - a);
  const sections = ids.map((id) => renderExperiment(known.get(id) || { id, name: `experiment ${id}` }, byExperiment.get(id)));
  if (!ids.length && Object.entries(filters).some(([key, value]) => key !== "sort" && value)) sections.push(el("p", { class: "empty" }, "No run matches these filters."));
  container.replaceChildren(...sections);
  updateCompareButton();
}

// Sortable columns: the server orders the runs (GET /api/runs?sort=); a click toggles the direction.
const SORTABLE = [
  ["name", "Run"], ["state", "State"], ["progress", "Progress"], ["best_val_accuracy", "Best val acc", true],
  ["final_val_accuracy", "Final val acc", true], ["test_accuracy", "Test acc", true], ["epoch_time", "Epoch time", true],
  ["created", "Created", true],
];

function sortHeader([key, label, numeric]) {
  const current = readFilters().sort;
  const active = current.replace(/^-/, "") === key;
  const descending = current.startsWith("-");
  const button = el("button", { type: "button", class: "sort-button", dataset: { sort: key }, onclick: () => {
    const next = active && !descending ? `-${key}` : active ? key : numeric ? `-${key}` : key;
    const params = new URLSearchParams(location.search);
    params.set("sort", next);
    history.pushState(null, "", `/?${params.toString()}`);
    loadRuns().catch((error) => showStatus(error.message, "error"));
  } }, label, active ? (descending ? " ▼" : " ▲") : "");
  return el("th", { scope: "col", class: numeric ? "num" : null, "aria-sort": active ? (descending ? "descending" : "ascending") : "none" }, button);
}

function renderExperiment(experiment, runs) {
  // Server order when sorted, else oldest first within a study.
  if (!readFilters().sort) runs.sort((a, b) => a.id - b.id);
  const selectAll = el("input", { type: "checkbox", "aria-label": `Select all runs of ${experiment.name}` });
  selectAll.addEventListener("change", () => {
    for (const run of runs) toggleSelected(run.id, selectAll.checked);
    document.querySelectorAll(`tbody[data-experiment-id="${experiment.id}"] input.select-run`).forEach((box) => (box.checked = selectAll.checked));
  });
  const tags = (experiment.tags || []).map((tag) => el("span", { class: "tag" }, tag));
  return el("section", { class: "experiment", dataset: { experimentId: experiment.id } },
    el("header", { class: "experiment-head" },
      el("h2", {}, el("span", { class: "muted" }, `#${experiment.id} `), experiment.name),
      el("div", { class: "tags" }, tags),
      el("span", { class: "muted small" }, formatDate(experiment.created_at)),
      el("a", { class: "small study-link", href: `/experiments/${experiment.id}` }, "Study report"),
      el("a", { class: "small compare-all", href: `/compare?run_ids=${runs.map((run) => run.id).join(",")}` }, "Compare all")),
    experiment.description ? el("p", { class: "description" }, experiment.description) : null,
    el("div", { class: "table-wrap" }, el("table", { class: "data runs" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", class: "check" }, selectAll),
        SORTABLE.map(sortHeader),
        el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
      el("tbody", { dataset: { experimentId: experiment.id } }, runs.map(renderRunRow)))));
}

function renderRunRow(run) {
  const box = el("input", { type: "checkbox", class: "select-run", "aria-label": `Select ${run.name}`, checked: state.selected.has(run.id) });
  box.addEventListener("change", () => toggleSelected(run.id, box.checked));
  const active = isActiveState(run.state);
  return el("tr", { id: `run-${run.id}`, dataset: { runId: run.id, state: run.state } },
    el("td", { class: "check" }, box),
    el("td", { class: "run-name" }, el("a", { href: `/runs/${run.id}` }, run.name),
      run.error ? el("div", { class: run.state === "pruned" ? "prune-text" : "error-text" }, run.error) : null),
    el("td", { class: "state-cell" }, renderStateBadge(run.state)),
    el("td", { class: "progress-cell" }, renderProgress(run)),
    el("td", { class: "num" }, formatPercent(run.summary.best_val_accuracy)),
    el("td", { class: "num" }, formatPercent(run.summary.final_val_accuracy)),
    el("td", { class: "num" }, formatPercent(run.summary.test_accuracy)),
    el("td", { class: "num" }, run.epoch_seconds == null ? "–" : `${run.epoch_seconds.toFixed(2)} s`),
    el("td", { class: "num small muted" }, formatDate(run.created_at)),
    el("td", { class: "actions" },
      active ? el("button", { type: "button", class: "small secondary", onclick: () => act(cancelRun, run, "Cancelled") }, "Cancel") : null,
      el("button", { type: "button", class: "small secondary", onclick: () => act(cloneRun, run, "Cloned") }, "Clone"),
      el("button", { type: "button", class: "small danger", onclick: () => confirmDelete(run) }, "Delete")));
}

function replaceRunRow(run) {
  const row = document.getElementById(`run-${run.id}`);
  if (row) row.replaceWith(renderRunRow(run));
}

function toggleSelected(runId, on) {
  if (on) state.selected.add(runId);
  else state.selected.delete(runId);
  updateCompareButton();
}

function updateCompareButton() {
  const button = document.getElementById("compare-selected");
  button.disabled = state.selected.size === 0;
  button.textContent = state.selected.size ? `Compare ${state.selected.size} selected` : "Compare selected";
}

async function act(call, run, verb) {
  try {
    await call(run.id);
    showStatus(`${verb} ${run.name}`);
    await loadRuns();
  } catch (error) {
    showStatus(`${verb.replace(/d$/, "")} failed: ${error.message}`, "error");
  }
}

function confirmDelete(run) {
  if (!window.confirm(`Delete run "${run.name}" and its metrics?`)) return;
  state.selected.delete(run.id);
  act(deleteRun, run, "Deleted");
}

// One EventSource for the runs that can still change; reopened when that set changes.
function followActiveRuns() {
  const ids = [...state.runs.values()].filter((run) => isActiveState(run.state)).map((run) => run.id).sort((a, b) => a - b).slice(0, 100);
  const key = ids.join(",");
  // Runs that finish need no new stream (their channel just goes quiet); reopening
  // only when runs appear keeps the gaps, and the refetch each reopen costs, rare.
  const current = new Set(state.streamKey.split(",").filter(Boolean).map(Number));
  if (key === state.streamKey || (state.stream && ids.every((id) => current.has(id)))) return;
  state.stream?.close();
  state.streamKey = key;
  // States come from the experiments-level stream too (applying one twice changes nothing),
  // which also drives the indicator.
  state.stream = openRunStream(ids, {
    onState: applyStateMessage,
    onPoints: applyPointsMessage,
    onResync: () => loadRuns().catch(() => {}),
  });
}

// The run as this answer has it, with the state, epoch and error of a live message that
// arrived after the answer was asked for: that message is at least as new, and any later
// change is still on its way over the stream.
function keepLiveState(run, askedAt) {
  const shown = state.runs.get(run.id);
  if (!shown || (state.liveAt.get(run.id) ?? 0) <= askedAt) return run;
  return { ...run, state: shown.state, epoch: shown.epoch, epochs: shown.epochs, error: shown.error };
}

function markLive(runId) {
  state.liveAt.set(runId, ++state.liveSeq);
}

function applyStateMessage(message) {
  const run = state.runs.get(message.run_id);
  if (!run) return;
  const requeued = run.state === "running" && message.state === "queued";
  markLive(run.id);
  Object.assign(run, { state: message.state, error: message.error ?? run.error });
  if (message.epoch != null) run.epoch = message.epoch;
  if (message.epochs != null) run.epochs = message.epochs;
  replaceRunRow(run);
  showLiveStatus();
  // A finished run has a new summary (best / test accuracy), a re-queued one a new attempt: fetch it once.
  if (!isActiveState(message.state) || requeued) reloadSoon(300);
}

function applyPointsMessage(message) {
  const run = state.runs.get(message.run_id);
  if (!run) return;
  const epochs = message.points.filter((point) => point.axis === "epoch");
  if (!epochs.length) return;
  const lastEpoch = Math.max(...epochs.map((point) => point.x));
  run.epoch = Math.max(run.epoch, lastEpoch + 1);
  const times = epochs.filter((point) => point.name === "epoch_time").map((point) => point.value);
  if (times.length) run.epoch_seconds = times[times.length - 1];
  const acc = epochs.filter((point) => point.name === "val_accuracy").map((point) => point.value);
  if (acc.length) run.summary = { ...run.summary, best_val_accuracy: Math.max(run.summary.best_val_accuracy ?? 0, ...acc) };
  if (run.state === "queued") run.state = "running";
  markLive(run.id);
  replaceRunRow(run);
  showLiveStatus();
}

function renderPresetLinks() {
  const list = document.getElementById("preset-links");
  list.replaceChildren(...PRESETS.map((preset) => el("li", {}, el("a", { href: `/new?preset=${preset.id}` }, preset.title), " ", el("span", { class: "muted" }, preset.summary))));
}

function bindFilters() {
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const query = buildQuery(Object.fromEntries(data.entries()));
    history.pushState(null, "", `/${query}`);
    loadRuns().catch((error) => showStatus(error.message, "error"));
  });
  // Changing a select filters at once; text fields wait for Enter.
  for (const select of document.querySelectorAll("#filters select")) {
    select.addEventListener("change", () => document.getElementById("filters").requestSubmit());
  }
  window.addEventListener("popstate", () => {
    fillFilterForm(readFilters());
    loadRuns().catch((error) => showStatus(error.message, "error"));
  });
  document.getElementById("compare-selected").addEventListener("click", () => {
    location.href = `/compare?run_ids=${[...state.selected].sort((a, b) => a - b).join(",")}`;
  });
}

function main() {
  // Studies queued from another tab or the CLI show up when this tab is looked at again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") loadRuns().catch(() => {});
  });
  fillFilterForm(readFilters());
  renderPresetLinks();
  bindFilters();
  document.getElementById("load-more").addEventListener("click", () =>
    loadMoreRuns().catch((error) => showStatus(`Could not load more runs: ${error.message}`, "error")));
  loadRuns().catch((error) => showStatus(`Could not load runs: ${error.message}`, "error"));
  followAllRuns();
}

main();
