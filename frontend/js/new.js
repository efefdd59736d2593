// New study page (/new?preset=schedules): a form generated from the spec
// schema, a grid builder with a live run count, presets from the notes and a
// schedule preview computed in the browser. Data: GET /api/spec/schema,
// /api/spec/default, /api/spec/datasets; submits POST /api/experiments.

import { ApiError, createExperiment, getDatasets, getDefaultSpec, getSchema, validateSpec } from "./api.js";
import { el, setJsonTwin, showStatus } from "./dom.js";
import { errorSlotId, listFieldPaths, renderSpecForm, showFieldErrors } from "./form.js";
import { PRESETS, findPreset } from "./presets.js";
import { countStepsPerEpoch, isPerStep, learningRateAt, planEpochRates } from "./schedules.js";
import { pickColor, readTheme, escapePlotlyText } from "./charts.js";

/* global Plotly */

// Used only if /api/spec/datasets is unreachable (sizes from reglab/spec.py).
const FALLBACK_DATASETS = {
  fashion_mnist: { train: 60000, test: 10000, classes: 10 },
  mnist: { train: 60000, test: 10000, classes: 10 },
  cifar10: { train: 50000, test: 10000, classes: 10 },
  imdb: { train: 25000, test: 25000, classes: 2 },
  digits: { train: 1437, test: 360, classes: 10 },
};
const PREVIEW_POINTS = 1500;

const page = { schema: null, defaults: null, datasets: FALLBACK_DATASETS, spec: null, gridRows: [], fieldPaths: [], validateTimer: null };

// The API's deep_merge: nested objects merge key by key, except a schedule whose
// name changes, which is replaced whole.
export function mergeSpec(base, override) {
  const merged = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    const isObject = value && typeof value === "object" && !Array.isArray(value);
    if (isObject && current && typeof current === "object" && !Array.isArray(current)) {
      merged[key] = key === "schedule" && "name" in value && current.name !== value.name ? structuredClone(value) : mergeSpec(current, value);
    } else {
      merged[key] = structuredClone(value);
    }
  }
  return merged;
}

function overrideAt(path, value) {
  const keys = path.split(".");
  const override = {};
  let node = override;
  for (const key of keys.slice(0, -1)) node = node[key] = {};
  node[keys[keys.length - 1]] = value;
  return override;
}

export function parseGridValues(text) {
  const trimmed = text.trim();
  if (!trimmed) return [];
  try {
    return JSON.parse(`[${trimmed}]`);
  } catch {
    return trimmed.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
      try {
        return JSON.parse(part);
      } catch {
        return part;
      }
    });
  }
}

function formatGridValue(value) {
  if (value === null) return "none";
  if (typeof value === "object" && !Array.isArray(value)) {
    const inner = Object.entries(value).filter(([key]) => key !== "name").map(([key, v]) => `${key}=${formatGridValue(v)}`).join(", ");
    return value.name ? `${value.name}(${inner})` : `{${inner}}`;
  }
  return Array.isArray(value) ? `[${value.join(",")}]` : String(value);
}

function readGrid() {
  const grid = {};
  for (const row of page.gridRows) {
    const values = parseGridValues(row.values.value);
    if (row.field.value && values.length) grid[row.field.value] = values;
  }
  return grid;
}

// The grid's combinations in the API's order: whole objects before their fields.
export function expandGrid(base, grid) {
  const keys = Object.keys(grid).sort((a, b) => a.split(".").length - b.split(".").length);
  let combos = [{}];
  for (const key of keys) combos = combos.flatMap((combo) => grid[key].map((value) => ({ ...combo, [key]: value })));
  return combos.map((combo) => {
    let spec = base;
    for (const key of keys) spec = mergeSpec(spec, overrideAt(key, combo[key]));
    const varying = keys.filter((key) => grid[key].length > 1);
    const label = varying.map((key) => `${key.split(".").pop()}=${formatGridValue(combo[key])}`).join(", ") || "base";
    return { combo, spec, label };
  });
}

function updateRunCount() {
  const grid = readGrid();
  const count = Object.values(grid).reduce((product, values) => product * values.length, 1);
  document.getElementById("run-count").textContent = String(count);
  document.getElementById("run-count-label").textContent = count === 1 ? "run" : "runs";
  return count;
}

function addGridRow(path = "", values = "") {
  const index = page.gridRows.length;
  const field = el("select", { "aria-label": `Grid axis ${index + 1} field`, class: "grid-field" },
    el("option", { value: "" }, "choose a field…"),
    page.fieldPaths.map((item) => el("option", { value: item.path }, item.label)));
  field.value = path;
  const input = el("textarea", { class: "grid-values", rows: Math.min(8, Math.max(2, values.split("\n").length)), "aria-label": `Grid axis ${index + 1} values`, placeholder: "0, 0.001, 0.01" });
  input.value = values;
  const error = el("p", { class: "field-error", "aria-live": "polite" });
  const row = { field, values: input, error };
  const remove = el("button", { type: "button", class: "small secondary", "aria-label": `Remove grid axis ${index + 1}` }, "Remove");
  const node = el("div", { class: "grid-row" }, field, remove, input, error);
  const syncErrorId = () => (error.id = errorSlotId(`grid.${field.value}`));
  syncErrorId();
  field.addEventListener("change", () => {
    syncErrorId();
    refreshDerived();
  });
  input.addEventListener("input", refreshDerived);
  remove.addEventListener("click", () => {
    page.gridRows = page.gridRows.filter((r) => r !== row);
    node.remove();
    refreshDerived();
  });
  page.gridRows.push(row);
  document.getElementById("grid-rows").append(node);
}

function resetGrid(grid) {
  page.gridRows = [];
  document.getElementById("grid-rows").replaceChildren();
  for (const [path, values] of Object.entries(grid)) addGridRow(path, values.map((value) => JSON.stringify(value)).join(",\n"));
}

// Planned learning rates of every run of the grid, plotted before anything is submitted.
export function planPreview(spec, grid, datasets) {
  return expandGrid(spec, grid).map(({ label, spec: runSpec, combo }) => {
    const stepsPerEpoch = countStepsPerEpoch(runSpec, datasets);
    return { label, combo, schedule: runSpec.schedule, stepsPerEpoch, epochs: runSpec.training.epochs, perStep: isPerStep(runSpec.schedule), epochRates: planEpochRates(runSpec, stepsPerEpoch), spec: runSpec };
  });
}

function buildPreviewTrace(plan, index) {
  const total = plan.stepsPerEpoch * plan.epochs;
  const stride = Math.max(1, Math.ceil(total / PREVIEW_POINTS));
  const x = [];
  const y = [];
  if (plan.perStep) {
    for (let step = 0; step < total; step += stride) {
      x.push(step / plan.stepsPerEpoch);
      y.push(learningRateAt(plan.spec, step, plan.stepsPerEpoch));
    }
    x.push((total - 1) / plan.stepsPerEpoch);
    y.push(learningRateAt(plan.spec, total - 1, plan.stepsPerEpoch));
  } else {
    // Per-epoch schedules hold their rate for the whole epoch.
    plan.epochRates.forEach((rate, epoch) => x.push(epoch) && y.push(rate));
    x.push(plan.epochs);
    y.push(plan.epochRates[plan.epochRates.length - 1]);
  }
  return { type: "scatter", mode: "lines", x, y, name: escapePlotlyText(plan.label), line: { color: pickColor(index), shape: plan.perStep ? "linear" : "hv", width: 2 }, hovertemplate: "%{fullData.name}<br>epoch %{x:.2f}: lr %{y:.4g}<extra></extra>" };
}

// Log scale shows decays honestly; a flat rate reads better on a linear axis, and
// minor-tick labels only clutter a log axis spanning decades.
function pickRateAxis(traces) {
  const values = traces.flatMap((trace) => trace.y).filter((value) => value > 0);
  const low = Math.min(...values);
  const high = Math.max(...values);
  if (!values.length || high / low < 1.0001) return { type: "linear", rangemode: "tozero" };
  return { type: "log", dtick: Math.log10(high / low) > 1.5 ? 1 : "D2" };
}

function renderPreview() {
  const target = document.getElementById("schedule-preview");
  let plans;
  try {
    plans = planPreview(page.spec, readGrid(), page.datasets);
  } catch (error) {
    document.getElementById("preview-caption").textContent = `No preview: ${error.message}`;
    return;
  }
  // Exposed for tests and the curious: what the preview plots, run by run.
  window.reglabPreview = plans;
  const first = plans[0];
  const notes = [`${first.stepsPerEpoch} steps per epoch × ${first.epochs} epochs`];
  if (plans.some((plan) => plan.schedule.name === "plateau")) notes.push("plateau lowers the rate only when training stalls: shown at its start value");
  document.getElementById("preview-caption").textContent = notes.join(" · ");
  if (typeof Plotly === "undefined") return;
  const theme = readTheme();
  // Fixed margins: automargin with a wrapping legend makes Plotly redraw in a loop.
  const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, color: theme.muted, exponentformat: "e" };
  const traces = plans.slice(0, 50).map(buildPreviewTrace);
  Plotly.react(target, traces, {
    margin: { l: 64, r: 12, t: 8, b: 44 },
    paper_bgcolor: theme.bg,
    plot_bgcolor: theme.bg,
    font: { color: theme.fg, size: 11 },
    xaxis: { ...axis, title: { text: "epoch" } },
    yaxis: { ...axis, ...pickRateAxis(traces), title: { text: "learning rate" } },
    legend: { orientation: "h", y: -0.25, font: { size: 10.5 } },
    showlegend: plans.length > 1,
  }, { displaylogo: false, responsive: true });
}

function refreshDerived() {
  updateRunCount();
  renderPreview();
}

function renderForm() {
  renderSpecForm(document.getElementById("spec-form"), page.schema, page.spec, onSpecChange, onScheduleSwitch);
}

function onSpecChange() {
  refreshDerived();
  clearTimeout(page.validateTimer);
  page.validateTimer = setTimeout(checkSpec, 350);
}

// Fills the parameters the schema has no default for (list defaults) from the API.
async function onScheduleSwitch() {
  try {
    const result = await validateSpec(page.spec);
    page.spec.schedule = result.spec.schedule;
    renderForm();
    document.getElementById("field-schedule-name").focus();
    refreshDerived();
  } catch {
    // The inline validation shows what is missing.
  }
}

// A validation answer that arrives after a newer check or a submit is stale:
// it must not clear the errors the submit just placed.
function invalidateChecks() {
  clearTimeout(page.validateTimer);
  page.checkSeq = (page.checkSeq || 0) + 1;
  return page.checkSeq;
}

async function checkSpec() {
  const seq = invalidateChecks();
  try {
    const result = await validateSpec(page.spec);
    if (seq !== page.checkSeq) return;
    showErrors([]);
    showWarnings(result.warnings || []);
  } catch (error) {
    if (seq === page.checkSeq && error instanceof ApiError && error.status === 422) showErrors(error.body.detail || []);
  }
}

function showErrors(details) {
  const list = Array.isArray(details) ? details : [{ field: "", msg: String(details) }];
  showFieldErrors(document.getElementById("study-form"), list, (unplaced) => {
    if (unplaced.length) showStatus(unplaced.join("; "), "error");
  });
}

function showWarnings(warnings) {
  document.getElementById("warnings").replaceChildren(...warnings.map((text) => el("li", {}, text)));
}

function applyPreset(preset) {
  page.spec = mergeSpec(page.defaults, preset.base);
  document.getElementById("study-name").value = preset.title;
  document.getElementById("study-description").value = preset.summary;
  document.getElementById("study-tags").value = preset.tags.join(", ");
  renderForm();
  resetGrid(preset.grid);
  refreshDerived();
  checkSpec();
  history.replaceState(null, "", `/new?preset=${preset.id}`);
  for (const button of document.querySelectorAll("#preset-buttons button")) button.setAttribute("aria-pressed", String(button.dataset.preset === preset.id));
  showStatus(`Preset loaded: ${preset.title}`);
}

function renderPresetButtons() {
  document.getElementById("preset-buttons").replaceChildren(...PRESETS.map((preset) =>
    el("button", { type: "button", class: "preset", dataset: { preset: preset.id }, "aria-pressed": "false", title: preset.summary, onclick: () => applyPreset(preset) }, preset.title)));
}

async function submitStudy(event) {
  event.preventDefault();
  const button = document.getElementById("submit-study");
  const payload = {
    name: document.getElementById("study-name").value.trim(),
    description: document.getElementById("study-description").value,
    tags: document.getElementById("study-tags").value.split(",").map((tag) => tag.trim()).filter(Boolean),
    base: page.spec,
    grid: readGrid(),
  };
  if (!payload.name) {
    showErrors([{ field: "name", msg: "give the study a name" }]);
    document.getElementById("study-name").focus();
    return;
  }
  invalidateChecks();
  button.disabled = true;
  showStatus("Queuing…");
  try {
    const result = await createExperiment(payload);
    showStatus(`Queued ${result.runs.length} runs`);
    // The API answers the experiment itself with its runs (older drafts nested it under "experiment").
    location.href = `/?experiment_id=${(result.experiment || result).id}`;
  } catch (error) {
    button.disabled = false;
    if (error instanceof ApiError && error.status === 422 && Array.isArray(error.body?.detail)) {
      showErrors(error.body.detail);
      showStatus("The study was not queued: see the messages next to the fields.", "error");
      document.querySelector(".has-error input, .has-error select")?.focus();
    } else {
      showStatus(`The study was not queued: ${error.message}`, "error");
    }
  }
}

async function main() {
  const [schema, defaults, datasets] = await Promise.all([getSchema(), getDefaultSpec(), getDatasets().catch(() => FALLBACK_DATASETS)]);
  setJsonTwin("/api/spec/schema");
  Object.assign(page, { schema, defaults, datasets, spec: structuredClone(defaults), fieldPaths: listFieldPaths(schema) });
  renderPresetButtons();
  document.getElementById("add-grid-row").addEventListener("click", () => {
    addGridRow();
    page.gridRows[page.gridRows.length - 1].field.focus();
  });
  document.getElementById("study-form").addEventListener("submit", submitStudy);
  const preset = findPreset(new URLSearchParams(location.search).get("preset"));
  if (preset) applyPreset(preset);
  else {
    renderForm();
    refreshDerived();
  }
  // Plotly loads deferred; draw the preview once it is there.
  if (typeof Plotly === "undefined") window.addEventListener("load", renderPreview);
  document.body.dataset.ready = "1";
}

main().catch((error) => showStatus(`Could not load the form: ${error.message}`, "error"));
