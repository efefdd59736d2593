// The regularization path: the chosen metric against the study's factors.
// One numeric factor: metric vs factor (log x, 0 at its own tick), 95 % CI error
// bars, train and validation side by side. Two numeric factors: a heatmap of the
// group means. Three or more factors: parallel coordinates of every run.

/* global Plotly */

import { escapePlotlyText, readTheme } from "./charts.js";
import { plotConfig } from "./export.js";
import { METRIC_LABELS } from "./results.js";

// The training counterpart drawn next to a validation metric, so the gap shows.
const TRAIN_OF = {
  best_val_accuracy: "final_accuracy",
  final_val_accuracy: "final_accuracy",
  final_val_loss: "final_data_loss",
  final_val_data_loss: "final_data_loss",
};

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

export function numericFactors(analysis) {
  return analysis.factors.filter((factor) => analysis.groups.length && analysis.groups.every((g) => isNumber(g.key[factor])));
}

// A log axis has no 0: it sits one decade below the smallest positive value, with its own "0" tick.
export function logPositions(values) {
  const positive = values.filter((v) => v > 0);
  const smallest = positive.length ? Math.min(...positive) : 1;
  const zeroAt = smallest / 10;
  const position = (v) => (v > 0 ? v : zeroAt);
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  return { position, tickvals: distinct.map(position), ticktext: distinct.map((v) => (v === 0 ? "0" : String(v))) };
}

function layoutBase() {
  const theme = readTheme();
  const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, linecolor: theme.grid, color: theme.muted, automargin: true };
  return {
    axis,
    layout: {
      margin: { l: 56, r: 16, t: 30, b: 48 }, paper_bgcolor: theme.bg, plot_bgcolor: theme.bg,
      font: { color: theme.fg, family: "system-ui, sans-serif", size: 12 },
      legend: { orientation: "h", x: 0, y: 1.08 }, hovermode: "closest",
    },
  };
}

function errorBars(groups, metric) {
  return {
    type: "data", symmetric: false, visible: true,
    array: groups.map((g) => (g.metrics[metric]?.ci95?.[1] != null ? g.metrics[metric].ci95[1] - g.metrics[metric].mean : null)),
    arrayminus: groups.map((g) => (g.metrics[metric]?.ci95?.[0] != null ? g.metrics[metric].mean - g.metrics[metric].ci95[0] : null)),
  };
}

// Returns the kind of chart drawn: "path", "categorical", "heatmap", "parcoords" or "none".
export function renderPathChart(div, analysis, metric) {
  metric = metric || analysis.metric;
  const numeric = numericFactors(analysis);
  const factors = analysis.factors;
  if (!factors.length || analysis.groups.length < 2) {
    Plotly.purge(div);
    div.replaceChildren();
    div.textContent = "One condition only: no path to draw.";
    div.dataset.kind = "none";
    return "none";
  }
  let kind;
  if (factors.length === 1) kind = numeric.length === 1 ? "path" : "categorical";
  else if (factors.length === 2 && numeric.length === 2) kind = "heatmap";
  else kind = "parcoords";
  div.textContent = "";
  const label = METRIC_LABELS[metric] || metric;
  const { axis, layout } = layoutBase();
  let traces;
  if (kind === "path" || kind === "categorical") {
    const factor = factors[0];
    const groups = [...analysis.groups].sort((a, b) => (kind === "path" ? a.key[factor] - b.key[factor] : 0));
    const values = groups.map((g) => g.key[factor]);
    const pairs = TRAIN_OF[metric] ? [[TRAIN_OF[metric], "train"], [metric, "validation"]] : [[metric, label]];
    let x = values.map((v) => escapePlotlyText(typeof v === "object" ? JSON.stringify(v) : String(v)));
    layout.xaxis = { ...axis, title: { text: escapePlotlyText(factor) }, type: "category" };
    if (kind === "path") {
      const ticks = logPositions(values);
      x = values.map(ticks.position);
      layout.xaxis = { ...axis, title: { text: escapePlotlyText(factor) }, type: "log", tickvals: ticks.tickvals, ticktext: ticks.ticktext };
    }
    traces = pairs.map(([name, legend], index) => ({
      type: "scatter", mode: "lines+markers", x, y: groups.map((g) => g.metrics[name]?.mean ?? null),
      error_y: errorBars(groups, name), name: legend, meta: { metric: name },
      line: { dash: index === 0 && pairs.length > 1 ? "solid" : pairs.length > 1 ? "dash" : "solid" },
      customdata: groups.map((g) => escapePlotlyText(g.label)),
      hovertemplate: `%{customdata}<br>${name}: %{y:.4g}<extra></extra>`,
    }));
    layout.yaxis = { ...axis, title: { text: label } };
  } else if (kind === "heatmap") {
    const [fx, fy] = numeric;
    const xs = [...new Set(analysis.groups.map((g) => g.key[fx]))].sort((a, b) => a - b);
    const ys = [...new Set(analysis.groups.map((g) => g.key[fy]))].sort((a, b) => a - b);
    const z = ys.map((yv) => xs.map((xv) => analysis.groups.find((g) => g.key[fx] === xv && g.key[fy] === yv)?.metrics[metric]?.mean ?? null));
    traces = [{ type: "heatmap", x: xs.map(String), y: ys.map(String), z, colorscale: "Viridis", colorbar: { title: { text: label } },
      hovertemplate: `${escapePlotlyText(fx)}=%{x}<br>${escapePlotlyText(fy)}=%{y}<br>${metric}: %{z:.4g}<extra></extra>` }];
    layout.xaxis = { ...axis, title: { text: escapePlotlyText(fx) }, type: "category" };
    layout.yaxis = { ...axis, title: { text: escapePlotlyText(fy) }, type: "category" };
  } else {
    const runs = analysis.runs.filter((run) => run.metrics[metric] != null);
    const dimensions = factors.map((factor) => {
      const values = runs.map((run) => run.key[factor]);
      if (values.every(isNumber)) return { label: escapePlotlyText(factor), values };
      const categories = [...new Set(values.map((v) => JSON.stringify(v)))];
      return { label: escapePlotlyText(factor), values: values.map((v) => categories.indexOf(JSON.stringify(v))),
        tickvals: categories.map((_, i) => i), ticktext: categories.map(escapePlotlyText) };
    });
    const scores = runs.map((run) => run.metrics[metric]);
    dimensions.push({ label, values: scores });
    traces = [{ type: "parcoords", line: { color: scores, colorscale: "Viridis", showscale: true }, dimensions }];
  }
  div.dataset.kind = kind;
  Plotly.react(div, traces, layout, plotConfig());
  return kind;
}
