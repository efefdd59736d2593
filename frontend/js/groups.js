// Grouped charts of the Compare page: per group one mean line and one shaded band
// (std or 95 % CI, from the server's analysis), one colour per group, and the
// group's runs as faint lines that can be hidden. The server aggregates; this
// module only draws. Live updates refetch the analysis (throttled) and redraw.

/* global Plotly */

import { csvCell } from "./results.js";
import { CHARTS, STEP_CHART, chartMargin, escapePlotlyText, fitLogTicks, pickColor, readTheme } from "./charts.js";
import { plotConfig } from "./export.js";

const VALIDATION = new Set(["val_loss", "val_accuracy", "val_data_loss"]);

export function withAlpha(color, alpha) {
  if (color.startsWith("#")) {
    const value = parseInt(color.slice(1), 16);
    return `rgba(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
  }
  return color.replace("hsl(", "hsla(").replace(")", `, ${alpha})`);
}

// The band as one closed polygon over the x where it exists (n ≥ 2): upper edge forward, lower edge back.
export function bandPolygon(band) {
  const keep = band.x.map((_, i) => i).filter((i) => band.lo[i] != null && band.hi[i] != null);
  if (!keep.length) return null;
  return {
    x: [...keep.map((i) => band.x[i]), ...keep.slice().reverse().map((i) => band.x[i])],
    y: [...keep.map((i) => band.hi[i]), ...keep.slice().reverse().map((i) => band.lo[i])],
  };
}

export class GroupBoard {
  // settings: {logY, band, showRuns, hidden:Set}; data: the /api/compare answer with .analysis.
  constructor(container, settings) {
    this.container = container;
    this.settings = settings;
    this.charts = [];
    this.data = null;
    this.colorOf = new Map();
    this.groupColor = new Map();
  }

  setData(data) {
    this.data = data;
    this.groupColor = new Map(data.analysis.groups.map((g) => g.label).sort().map((label, i) => [label, pickColor(i)]));
    const groupOf = new Map(data.analysis.runs.map((run) => [run.id, run.group]));
    this.colorOf = new Map(data.runs.map((run) => [run.id, this.groupColor.get(groupOf.get(run.id))]));
  }

  definitions() {
    const series = this.data.analysis.series;
    const hasSteps = Object.values(series).some((s) => s.batch_loss?.x.length);
    return hasSteps ? [...CHARTS, STEP_CHART] : CHARTS;
  }

  render() {
    this.container.replaceChildren();
    this.charts = [];
    for (const definition of this.definitions()) {
      const figure = document.createElement("figure");
      figure.className = `chart chart-${definition.id}`;
      const caption = document.createElement("figcaption");
      const title = document.createElement("span");
      title.textContent = definition.title;
      const key = document.createElement("span");
      key.className = "muted chart-key";
      key.textContent = `mean of each group, band ${this.settings.band === "std" ? "± 1 std" : "95 % CI"}${definition.series.length > 1 ? " · dashed: validation" : ""}`;
      caption.append(title, key);
      const div = document.createElement("div");
      div.className = "plot";
      div.id = `chart-${definition.id}`;
      div.dataset.chart = definition.id;
      figure.append(caption, div);
      this.container.append(figure);
      this.charts.push({ definition, div });
    }
    this.draw();
  }

  draw() {
    for (const chart of this.charts) {
      Plotly.react(chart.div, this.traces(chart.definition), this.layout(chart.definition), plotConfig());
      fitLogTicks(chart.div);
    }
  }

  traces(definition) {
    const { analysis, series: runSeries } = this.data;
    const traces = [];
    if (this.settings.showRuns) {
      // One trace per group and series, its runs separated by gaps: a hundred faint
      // lines cost Plotly as little as ten.
      const groupOf = new Map(analysis.runs.map((run) => [run.id, run.group]));
      for (const group of analysis.groups) {
        const color = withAlpha(this.groupColor.get(group.label), 0.3);
        for (const name of definition.series) {
          const x = [];
          const y = [];
          const runIds = [];
          for (const run of this.data.runs) {
            if (groupOf.get(run.id) !== group.label || this.settings.hidden.has(run.id)) continue;
            const s = runSeries[run.id]?.[name] || runSeries[String(run.id)]?.[name];
            if (!s || !s.x.length) continue;
            if (x.length) {
              x.push(null);
              y.push(null);
            }
            x.push(...s.x);
            y.push(...s.y);
            runIds.push(run.id);
          }
          if (!runIds.length) continue;
          traces.push({ type: "scatter", mode: "lines", x, y, showlegend: false, connectgaps: false,
            line: { color, width: 1, dash: VALIDATION.has(name) ? "dash" : "solid" }, hoverinfo: "skip",
            yaxis: name === "batch_learning_rate" ? "y2" : "y", meta: { kind: "runs", group: group.label, series: name, runIds } });
        }
      }
    }
    for (const group of analysis.groups) {
      const color = this.groupColor.get(group.label);
      definition.series.forEach((name, index) => {
        const band = analysis.series[group.label]?.[name];
        if (!band || !band.x.length) return;
        const polygon = bandPolygon(band);
        if (polygon) {
          traces.push({ type: "scatter", mode: "lines", x: polygon.x, y: polygon.y, fill: "toself", fillcolor: withAlpha(color, 0.18),
            line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: group.label,
            yaxis: name === "batch_learning_rate" ? "y2" : "y", meta: { kind: "band", group: group.label, series: name } });
        }
        traces.push({ type: "scatter", mode: "lines", x: band.x, y: band.mean, name: escapePlotlyText(group.label),
          legendgroup: group.label, showlegend: index === 0, customdata: band.n,
          line: { color, width: 2.2, dash: VALIDATION.has(name) ? "dash" : name === "batch_learning_rate" ? "dot" : "solid" },
          yaxis: name === "batch_learning_rate" ? "y2" : "y", meta: { kind: "mean", group: group.label, series: name },
          hovertemplate: `%{fullData.name}<br>${name}: %{y:.4g} (n=%{customdata})<br>x: %{x}<extra></extra>` });
      });
    }
    return traces;
  }

  layout(definition) {
    const theme = readTheme();
    const logY = definition.logY || this.settings.logY;
    const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, linecolor: theme.grid, color: theme.muted, automargin: true, exponentformat: "e" };
    const layout = {
      margin: chartMargin(logY, this.settings.legend), paper_bgcolor: theme.bg, plot_bgcolor: theme.bg,
      font: { color: theme.fg, family: "system-ui, sans-serif", size: 12 },
      xaxis: { ...axis, title: { text: definition.step ? "step" : "epoch" } },
      yaxis: { ...axis, type: logY ? "log" : "linear", dtick: logY ? "D2" : undefined, tickformat: logY ? ".0e" : undefined, title: { text: definition.step ? "batch_loss" : definition.series[0] } },
      // As on the ungrouped charts, the table's swatches are the legend; "Chart legends" adds Plotly's.
      showlegend: Boolean(this.settings.legend), legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 11 } },
      hovermode: "closest", uirevision: "keep",
    };
    if (definition.step) layout.yaxis2 = { ...axis, overlaying: "y", side: "right", type: "log", dtick: "D2", tickformat: ".0e", showgrid: false };
    return layout;
  }

  setHidden(hidden) {
    this.settings.hidden = hidden;
    this.draw();
  }

  refresh() {
    this.draw();
  }

  // Long-format CSV of every raw point of the runs, as the ungrouped board exports it.
  toCsv() {
    const rows = [["run_id", "run_name", "series", "axis", "x", "t", "value"]];
    for (const run of this.data.runs) {
      for (const [name, s] of Object.entries(this.data.series[run.id] || this.data.series[String(run.id)] || {})) {
        s.x.forEach((x, i) => rows.push([run.id, run.name, name, s.axis, x, s.t?.[i] ?? "", s.y[i] ?? ""]));
      }
    }
    return rows.map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
  }
}
