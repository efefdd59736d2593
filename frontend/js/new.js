// New study page (/new?preset=schedules): a form generated from the spec
// schema, a grid builder, presets from the notes and a schedule preview. The
// run count, the run names and the planned rates all come from the server
// (POST /api/experiments/plan), so the page shows exactly what would be
// queued. Data: GET /api/spec/schema, /api/spec/default; submits POST /api/experiments.

import { ApiError, createExperiment, getDefaultSpec, getSchema, planExperiment, validateSpec } from "./api.js";
import { el, setJsonTwin, showStatus } from "./dom.js";
import { errorSlotId, listFieldPaths, renderSpecForm, showFieldErrors } from "./form.js";
import { PRESETS, findPreset } from "./presets.js";
import { addUploadOptions, listUploads, mountUploadPanel } from "./datasets.js";
import { pickColor, readTheme, escapePlotlyText } from "./charts.js";
import { mountFinder } from "./finder.js";
import { plotConfig } from "./export.js";

/* global Plotly */

// Typing in the form or the grid asks for a new plan this long after the last keystroke.
const PLAN_DEBOUNCE_MS = 250;
// The plan needs a study name; the server uses it only to name a run when no grid axis varies.
const UNNAMED = "untitled study";

const page = { uploads: [], schema: null, defaults: null, spec: null, gridRows: [], fieldPaths: [], planTimer: null, planSeq: 0, plan: null };

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

function readGrid() {
  const grid = {};
  for (const row of page.gridRows) {
    const values = parseGridValues(row.values.value);
    if (row.field.value && values.length) grid[row.field.value] = values;
  }
  return grid;
}

function showRunCount(count) {
  document.getElementById("run-count").textContent = count == null ? "…" : String(count);
  document.getElementById("run-count-label").textContent = count === 1 ? "run" : "runs";
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
    schedulePlan();
  });
  input.addEventListener("input", schedulePlan);
  remove.addEventListener("click", () => {
    page.gridRows = page.gridRows.filter((r) => r !== row);
    node.remove();
    schedulePlan();
  });
  page.gridRows.push(row);
  document.getElementById("grid-rows").append(node);
}

function resetGrid(grid) {
  page.gridRows = [];
  document.getElementById("grid-rows").replaceChildren();
  for (const [path, values] of Object.entries(grid)) addGridRow(path, values.map((value) => JSON.stringify(value)).join(",\n"));
}

// One trace per planned run, in epochs on x; the rates are the server's (reglab/schedule_math.py).
function buildPreviewTrace(run, index) {
  const rates = run.planned_rates;
  const perStep = rates.axis === "step";
  const x = perStep ? rates.x.map((step) => step / rates.steps_per_epoch) : [...rates.x, rates.epochs];
  // Epoch-based schedules hold their rate for the whole epoch: repeat the last one to the end.
  const y = perStep ? rates.y : [...rates.y, rates.y[rates.y.length - 1]];
  return { type: "scatter", mode: "lines", x, y, name: escapePlotlyText(run.name), line: { color: pickColor(index), shape: perStep ? "linear" : "hv", width: 2 }, hovertemplate: "%{fullData.name}<br>epoch %{x:.2f}: lr %{y:.4g}<extra></extra>" };
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
  const plan = page.plan;
  if (!plan) return;
  const first = plan.runs[0].planned_rates;
  const notes = [`${first.steps_per_epoch} steps per epoch × ${first.epochs} epochs`, `${plan.runs[0].param_count.toLocaleString("en")} parameters`];
  if (plan.runs.some((run) => run.planned_rates.adaptive)) notes.push("plateau lowers the rate only when training stalls: shown at its start value");
  document.getElementById("preview-caption").textContent = notes.join(" · ");
  if (typeof Plotly === "undefined") return;
  const theme = readTheme();
  // Fixed margins: automargin with a wrapping legend makes Plotly redraw in a loop.
  const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, color: theme.muted, exponentformat: "e" };
  const traces = plan.runs.slice(0, 50).map(buildPreviewTrace);
  Plotly.react(document.getElementById("schedule-preview"), traces, {
    margin: { l: 64, r: 12, t: 8, b: 44 },
    paper_bgcolor: theme.bg,
    plot_bgcolor: theme.bg,
    font: { color: theme.fg, size: 11 },
    xaxis: { ...axis, title: { text: "epoch" } },
    yaxis: { ...axis, ...pickRateAxis(traces), title: { text: "learning rate" } },
    legend: { orientation: "h", y: -0.25, font: { size: 10.5 } },
    showlegend: plan.runs.length > 1,
  }, plotConfig());
}

function studyBody() {
  return {
    name: document.getElementById("study-name").value.trim(),
    description: document.getElementById("study-description").value,
    tags: document.getElementById("study-tags").value.split(",").map((tag) => tag.trim()).filter(Boolean),
    base: page.spec,
    grid: readGrid(),
  };
}

// Asks for a plan once typing pauses; an answer overtaken by a newer request or a submit is dropped.
function schedulePlan() {
  clearTimeout(page.planTimer);
  showRunCount(null);
  page.planTimer = setTimeout(requestPlan, PLAN_DEBOUNCE_MS);
}

function invalidatePlans() {
  clearTimeout(page.planTimer);
  page.planSeq += 1;
  return page.planSeq;
}

async function requestPlan() {
  const seq = invalidatePlans();
  const body = studyBody();
  body.name = body.name || UNNAMED;
  try {
    const plan = await planExperiment(body);
    if (seq !== page.planSeq) return;
    page.plan = plan;
    // Exposed for tests and the curious: the server's plan, run by run.
    window.reglabPreview = plan.runs;
    showRunCount(plan.runs.length);
    showErrors([]);
    showWarnings(plan.warnings);
    renderPreview();
  } catch (error) {
    if (seq !== page.planSeq) return;
    document.getElementById("run-count").textContent = "–";
    if (error instanceof ApiError && error.status === 422) {
      showErrors(error.body.detail);
      document.getElementById("preview-caption").textContent = "No preview until the fields marked are fixed.";
    } else {
      document.getElementById("preview-caption").textContent = `No preview: ${error.message}`;
    }
  }
}

function renderForm() {
  renderSpecForm(document.getElementById("spec-form"), page.schema, page.spec, schedulePlan, onScheduleSwitch);
  addUploadOptions(document.getElementById("field-dataset-name"), page.uploads, page.spec.dataset.name);
}

// Fills the parameters the schema has no default for (list defaults) from the API.
async function onScheduleSwitch() {
  try {
    const result = await validateSpec(page.spec);
    page.spec.schedule = result.spec.schedule;
    renderForm();
    document.getElementById("field-schedule-name").focus();
  } catch {
    // The plan's answer shows what is missing.
  }
  schedulePlan();
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

// The server merges the preset's partial spec over the defaults, as it will on submit.
async function applyPreset(preset) {
  page.spec = (await validateSpec(preset.base)).spec;
  document.getElementById("study-name").value = preset.title;
  document.getElementById("study-description").value = preset.summary;
  document.getElementById("study-tags").value = preset.tags.join(", ");
  renderForm();
  resetGrid(preset.grid);
  schedulePlan();
  history.replaceState(null, "", `/new?preset=${preset.id}`);
  for (const button of document.querySelectorAll("#preset-buttons button")) button.setAttribute("aria-pressed", String(button.dataset.preset === preset.id));
  showStatus(`Preset loaded: ${preset.title}`);
}

function renderPresetButtons() {
  document.getElementById("preset-buttons").replaceChildren(...PRESETS.map((preset) =>
    el("button", { type: "button", class: "preset", dataset: { preset: preset.id }, "aria-pressed": "false", title: preset.summary, onclick: () => applyPreset(preset).catch((error) => showStatus(`Could not load the preset: ${error.message}`, "error")) }, preset.title)));
}

async function submitStudy(event) {
  event.preventDefault();
  const button = document.getElementById("submit-study");
  const payload = studyBody();
  if (!payload.name) {
    showErrors([{ field: "name", msg: "give the study a name" }]);
    document.getElementById("study-name").focus();
    return;
  }
  invalidatePlans();
  button.disabled = true;
  showStatus("Queuing…");
  try {
    const result = await createExperiment(payload);
    showStatus(`Queued ${result.runs.length} runs`);
    location.href = `/?experiment_id=${result.id}`;
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
  const [schema, defaults] = await Promise.all([getSchema(), getDefaultSpec()]);
  setJsonTwin("/api/spec/schema");
  Object.assign(page, { schema, defaults, spec: structuredClone(defaults), fieldPaths: listFieldPaths(schema) });
  renderPresetButtons();
  page.uploads = await listUploads().catch(() => []);
  mountUploadPanel(document.getElementById("upload-form"), (dataset) => {
    page.uploads = [dataset, ...page.uploads];
    page.spec.dataset.name = dataset.ref;
    renderForm();
    schedulePlan();
  });
  document.getElementById("add-grid-row").addEventListener("click", () => {
    addGridRow();
    page.gridRows[page.gridRows.length - 1].field.focus();
  });
  document.getElementById("study-form").addEventListener("submit", submitStudy);
  mountFinder({
    button: document.getElementById("find-rate"),
    panel: document.getElementById("finder-panel"),
    getSpec: () => page.spec,
    accept: (rate) => {
      page.spec.optimizer.learning_rate = rate;
      renderForm();
      schedulePlan();
    },
  });
  // The name names a run when no grid axis varies.
  document.getElementById("study-name").addEventListener("input", schedulePlan);
  const preset = findPreset(new URLSearchParams(location.search).get("preset"));
  if (preset) await applyPreset(preset);
  else {
    renderForm();
    schedulePlan();
  }
  // Plotly loads deferred; draw the preview once it is there.
  if (typeof Plotly === "undefined") window.addEventListener("load", renderPreview);
  document.body.dataset.ready = "1";
}

main().catch((error) => showStatus(`Could not load the form: ${error.message}`, "error"));
