// The hyperparameter importance bars of a study (GET /api/experiments/{id}/importance),
// drawn on the Study page and in the study's report.

/* global Plotly */

import { pickColor, readTheme } from "./charts.js";
import { plotConfig } from "./export.js";

export function importanceCaption(result) {
  return result.reason || `${result.method === "fanova" ? "fANOVA" : "PED-ANOVA"} over ${result.runs} finished runs, on ${result.metric}`;
}

// Most important on top; returns whether there was anything to draw.
export function drawImportance(node, result) {
  node.hidden = !result.importances.length;
  if (!result.importances.length || typeof Plotly === "undefined") return false;
  const items = [...result.importances].reverse();
  const theme = readTheme();
  Plotly.react(node, [{ type: "bar", orientation: "h", x: items.map((i) => i.importance), y: items.map((i) => i.field),
    marker: { color: pickColor(0) }, meta: { series: "importance" } }], {
    margin: { l: 190, r: 10, t: 10, b: 40 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: theme.fg, size: 11 }, xaxis: { title: { text: "importance" }, gridcolor: theme.grid, range: [0, 1] },
  }, plotConfig());
  return true;
}
