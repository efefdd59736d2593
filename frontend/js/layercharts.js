// Plotly figures of per-layer statistics, shared by the Run page's "Layer
// statistics" section and the Compare page's "Layers" tab. Every function draws
// with Plotly.react, so moving a slider or a picker updates a figure in place.

/* global Plotly */

import { bandPolygon, withAlpha } from "./groups.js";
import { escapePlotlyText, pickColor, readTheme } from "./charts.js";
import { plotConfig } from "./export.js";
import { binCentres } from "./layerdata.js";

function baseLayout({ xTitle, yTitle, logY = false, legend = false, margin = null }) {
  const theme = readTheme();
  const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, linecolor: theme.grid, color: theme.muted, automargin: true, exponentformat: "e" };
  return {
    // Fixed margins that hold the labels: automargin growing them costs a second draw.
    margin: margin || { l: 56, r: 12, t: legend ? 30 : 8, b: 40 },
    paper_bgcolor: theme.bg,
    plot_bgcolor: theme.bg,
    font: { color: theme.fg, family: "system-ui, sans-serif", size: 11 },
    xaxis: { ...axis, title: { text: xTitle } },
    yaxis: { ...axis, type: logY ? "log" : "linear", title: { text: yTitle } },
    showlegend: legend,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 11 } },
    hovermode: "closest",
    uirevision: "keep",
  };
}

// One layer's tensor as a heatmap: epochs on x, value bins on y, colour the share of values.
export function drawHeatmap(div, data, tensor) {
  if (!data) return drawNothing(div, "No histograms recorded for this tensor.");
  const trace = {
    type: "heatmap", x: data.x, y: data.y, z: data.z, name: tensor, colorscale: "Viridis", zmin: 0,
    colorbar: { thickness: 10, tickformat: ".0%", len: 0.9 }, hoverongaps: false,
    hovertemplate: "epoch %{x}<br>value %{y:.3g}<br>share %{z:.2%}<extra></extra>",
  };
  const layout = baseLayout({ xTitle: "epoch", yTitle: tensor, margin: { l: 56, r: 8, t: 8, b: 36 } });
  layout.xaxis.dtick = data.x.length <= 12 ? 1 : undefined;
  return react(div, [trace], layout);
}

// TensorBoard's distribution view: nested quantile bands over epochs and the median.
export function drawDistribution(div, series, tensor) {
  if (!series.x.length) return drawNothing(div, "No quantiles recorded for this tensor.");
  const color = pickColor(0);
  const traces = series.bands.map((band, i) => {
    const polygon = bandPolygon({ x: series.x, lo: band.lo, hi: band.hi }) || { x: [], y: [] };
    return { type: "scatter", mode: "lines", x: polygon.x, y: polygon.y, fill: "toself", name: band.label,
      fillcolor: withAlpha(color, 0.12 + 0.1 * i), line: { width: 0, color }, hoverinfo: "skip", meta: { kind: "band" } };
  });
  traces.push({ type: "scatter", mode: "lines+markers", x: series.x, y: series.median, name: "median",
    line: { color, width: 2 }, marker: { size: 4 }, meta: { kind: "median" },
    hovertemplate: "epoch %{x}<br>median %{y:.4g}<extra></extra>" });
  const layout = baseLayout({ xTitle: "epoch", yTitle: tensor, margin: { l: 56, r: 8, t: 8, b: 36 } });
  layout.xaxis.dtick = series.x.length <= 12 ? 1 : undefined;
  return react(div, traces, layout);
}

// The Run page's depth profile at one epoch: activation std (left axis) and gradient L2 (right, log).
export function drawRunDepth(div, layers, profile) {
  const x = layers.map((layer) => layer.index);
  const text = layers.map((layer) => escapePlotlyText(layer.name));
  const traces = [
    { type: "scatter", mode: "lines+markers", x, y: profile.activationStd, text, name: "activation std",
      line: { color: pickColor(0), width: 2 }, marker: { size: 5 }, meta: { stat: "activations.std" },
      hovertemplate: "%{text}<br>activation std %{y:.4g}<extra></extra>" },
    { type: "scatter", mode: "lines+markers", x, y: profile.gradientL2, text, name: "gradient L2", yaxis: "y2",
      line: { color: pickColor(1), width: 2, dash: "dot" }, marker: { size: 5 }, meta: { stat: "gradients.l2" },
      hovertemplate: "%{text}<br>gradient L2 %{y:.4g}<extra></extra>" },
  ];
  const layout = baseLayout({ xTitle: "layer index (input side first)", yTitle: "activation std", legend: true, margin: { l: 56, r: 64, t: 30, b: 40 } });
  const theme = readTheme();
  layout.yaxis.rangemode = "tozero";
  layout.yaxis2 = { overlaying: "y", side: "right", type: "log", title: { text: "gradient L2" }, showgrid: false,
    color: theme.muted, linecolor: theme.grid, exponentformat: "e", automargin: true };
  return react(div, traces, layout);
}

// The Compare page's depth profiles: one line per run or group, a band under each group.
export function drawCompareDepth(div, answer, colorOf, logY) {
  const x = answer.layers.map((layer) => layer.index);
  const text = answer.layers.map((layer) => escapePlotlyText(layer.name));
  const traces = [];
  answer.profiles.forEach((profile, i) => {
    const color = colorOf(profile, i);
    if (profile.low && profile.high) {
      const polygon = bandPolygon({ x, lo: profile.low, hi: profile.high });
      if (polygon) {
        traces.push({ type: "scatter", mode: "lines", x: polygon.x, y: polygon.y, fill: "toself", fillcolor: withAlpha(color, 0.18),
          line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: profile.key, meta: { kind: "band", key: profile.key } });
      }
    }
    traces.push({ type: "scatter", mode: "lines+markers", x, y: profile.values, text, name: escapePlotlyText(profile.label),
      legendgroup: profile.key, line: { color, width: profile.low ? 2.4 : 1.6 }, marker: { size: 4 },
      meta: { kind: "profile", key: profile.key, epoch: profile.epoch },
      hovertemplate: `%{fullData.name}<br>%{text}: %{y:.4g}<br>epoch ${profile.epoch}<extra></extra>` });
  });
  const layout = baseLayout({ xTitle: "layer index (input side first)", yTitle: `${answer.tensor} ${answer.stat}`, logY, legend: true });
  return react(div, traces, layout);
}

// One layer's histograms at one epoch, overlaid: a step line per run or group on the server's common edges.
export function drawCompareHistograms(div, answer, layerName, colorOf, logY) {
  const entries = answer.histograms?.by_layer?.[layerName] || [];
  const edges = answer.histograms?.edges || [];
  if (!entries.length || edges.length < 2) return drawNothing(div, "No histograms of this layer at this epoch.");
  const x = binCentres(edges);
  const profileIndex = new Map(answer.profiles.map((profile, i) => [profile.key, i]));
  const traces = entries.map((entry, i) => {
    const index = profileIndex.get(entry.key) ?? i;
    const color = colorOf(answer.profiles[index] || entry, index);
    // A log axis has no 0: empty bins are gaps there rather than a line to the bottom.
    const y = logY ? entry.counts.map((count) => (count > 0 ? count : null)) : entry.counts;
    return { type: "scatter", mode: "lines", x, y, name: escapePlotlyText(entry.label), line: { color, width: 1.6, shape: "hvh" },
      meta: { kind: "histogram", key: entry.key }, hovertemplate: "%{fullData.name}<br>value %{x:.3g}<br>count %{y}<extra></extra>" };
  });
  const layout = baseLayout({ xTitle: `${answer.tensor} value`, yTitle: "count", logY, legend: true });
  return react(div, traces, layout);
}

// A figure drawn where a message stood starts from an empty div.
function react(div, traces, layout) {
  if (div.dataset.empty) {
    div.replaceChildren();
    delete div.dataset.empty;
  }
  // The export menu (PNG, SVG, the drawn traces as CSV) and the publication style, as on every chart.
  return Plotly.react(div, traces, layout, plotConfig({ modeBarButtonsToRemove: ["select2d", "lasso2d"] }));
}

function drawNothing(div, message) {
  Plotly.purge(div);
  div.replaceChildren();
  div.textContent = message;
  div.dataset.empty = "1";
  return Promise.resolve(div);
}
