// A study's report (GET /api/experiments/{id}/report), opened from disk: the server
// wrote its text and put every number in the #report-data JSON; this draws the
// results table, the best condition, the regularization path, the grouped curves
// and the importance ranking with the Study and Compare pages' own modules.
// It makes no request: the server bundles it with Plotly.js into the file.

/* global Plotly */

import { pickColor } from "./charts.js";
import { saveBlob } from "./export.js";
import { GroupBoard } from "./groups.js";
import { drawImportance, importanceCaption } from "./importance.js";
import { renderPathChart } from "./path.js";
import { renderBestCondition, renderResultsTable } from "./results.js";

// Past this many conditions the charts' legends would outgrow them: the results table's swatches are the legend.
const LEGEND_GROUPS = 12;

function renderResults(analysis, state) {
  const colorOf = new Map(analysis.groups.map((g) => g.label).sort().map((label, i) => [label, pickColor(i)]));
  const best = renderBestCondition(document.getElementById("best-condition"), analysis, analysis.metric);
  renderResultsTable(document.getElementById("results-table"), analysis, {
    metric: analysis.metric, sort: state.sort, colorOf, highlight: best?.group.label,
    onSort: (key) => {
      state.sort = state.sort?.key === key ? { key, desc: !state.sort.desc } : { key, desc: false };
      renderResults(analysis, state);
    },
  });
}

function draw(data) {
  const { analysis } = data;
  renderResults(analysis, { sort: null });
  renderPathChart(document.getElementById("path-chart"), analysis, analysis.metric);
  const board = new GroupBoard(document.getElementById("curve-charts"), {
    band: analysis.band, showRuns: false, hidden: new Set(), logY: false, legend: analysis.groups.length <= LEGEND_GROUPS,
  });
  board.setData({ analysis, runs: analysis.runs, series: {} });
  board.render();
  const importance = document.getElementById("importance-chart");
  if (importance && data.importance) {
    document.getElementById("importance-reason").textContent = importanceCaption(data.importance);
    drawImportance(importance, data.importance);
  }
  // Paper is narrower than the screen: the charts take the printed width, and the screen's back after.
  const resize = () => document.querySelectorAll(".js-plotly-plot").forEach((div) => Plotly.Plots.resize(div));
  window.addEventListener("beforeprint", resize);
  window.addEventListener("afterprint", resize);
}

function bindSave(data) {
  document.getElementById("save-study")?.addEventListener("click", () =>
    saveBlob(new Blob([data.reproduce.json + "\n"], { type: "application/json" }), "study.json"));
}

async function main() {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  window.reglabReport = data;
  bindSave(data);
  try {
    await window.reglabPlotly;
    draw(data);
  } catch (error) {
    const status = document.getElementById("report-status");
    status.hidden = false;
    status.textContent = `The charts could not be drawn: ${error.message}`;
    throw error;
  }
  document.body.dataset.ready = "1";
}

main();
