// Overlaid run charts shared by the Compare and Run pages.
// One trace per (chart, run, series), created up front even when empty, so a
// live point always has a trace to extend (Plotly.extendTraces, never a full
// redraw). Past MERGE_RUN_THRESHOLD runs an epoch chart draws one trace per
// colour and series instead, its runs joined with gaps (see buildMergedTraces).
// Raw points stay in `board.store`; traces show them smoothed (EMA) against
// epoch or wall time, and the last x of every series makes merging a REST
// refetch with live points free of duplicates.
// Zooming the step chart on x asks the page's `fetchRange` for that range at
// full resolution (x_min / x_max on the metrics and compare endpoints) and
// draws it; a reset (double-click, autorange) draws the store again.

/* global Plotly */

import { exportImage, plotConfig, saveBlob } from "./export.js";

export const CHARTS = [
  { id: "loss", title: "Loss", series: ["loss", "val_loss"] },
  { id: "accuracy", title: "Accuracy", series: ["accuracy", "val_accuracy"] },
  { id: "learning_rate", title: "Learning rate", series: ["learning_rate"], logY: true },
  // Keras adds the penalty to val_loss as well: the honest gap compares both without it.
  { id: "gap", title: "Generalization gap: data loss vs val data loss (penalty removed)", series: ["data_loss", "val_data_loss"] },
  { id: "weight_l2", title: "Weight L2 norm", series: ["weight_l2"] },
  { id: "sparsity", title: "Sparsity (|w| < 1e-3)", series: ["sparsity"] },
];
export const STEP_CHART = { id: "steps", title: "Per step: batch loss and batch learning rate", series: ["batch_loss", "batch_learning_rate"], step: true };
export const EPOCH_SERIES = [...new Set(CHARTS.flatMap((chart) => chart.series))];
export const STEP_SERIES = STEP_CHART.series;
// Past this many runs, the step chart's traces switch to WebGL so 50 overlaid
// runs of long step series stay fluid.
export const WEBGL_RUN_THRESHOLD = 20;
// Epoch charts switch only past this many points: WebGL's first draw of a chart
// costs ~0.5 s without a GPU, which a live page of short series would pay on
// its first epoch, and SVG draws a few thousand points as fast.
export const WEBGL_POINT_THRESHOLD = 50_000;
// Plotly redraws every trace of a chart on each update, ~0.5 ms a trace without
// a GPU: past this many runs (with the charts' own legends off) an epoch chart
// joins the runs that share a colour into one trace per series, and runs take
// MERGED_COLORS colours in turn, so 100 runs redraw 48 traces, not 200. Hover
// still names the run of each point; the runs table stays the legend.
export const MERGE_RUN_THRESHOLD = 20;
export const MERGED_COLORS = 24;
// The main thread rests this share of a redraw's time before the next one
// (a whole share, as before, left 100 runs at p95 ~0.7 s; see scheduleFlush).
const FLUSH_REST_SHARE = 0.34;

// An epoch's per-step points (thousands on a full dataset) are cut to this many
// buckets' min and max before they reach the charts, as the server downsamples
// what it serves: a long run stays light and spikes stay visible.
export const LIVE_STEP_BUCKETS = 16;
// A live step trace keeps its latest this many points on screen (Plotly's
// maxPoints), so a long run's redraws stay bounded; a reload or a zoom fetches
// the whole run, downsampled, from the server.
export const LIVE_STEP_MAX_POINTS = 4000;

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#3b8bc2", "#d37295", "#8cd17d"];
const VALIDATION = new Set(["val_loss", "val_accuracy", "val_data_loss"]);

// 1-2-5 ticks suit a log axis spanning decades, but a rate that moves within
// one decade (a slow power decay) would get no labelled tick at all: such an
// axis takes Plotly's own ticks, with enough digits to tell them apart.
export function fitLogTicks(div) {
  const updates = {};
  for (const [key, ref] of [["yaxis", "y"], ["yaxis2", "y2"]]) {
    const axis = div.layout[key];
    if (!axis || axis.type !== "log") continue;
    let low = Infinity;
    let high = -Infinity;
    for (const trace of div.data) {
      if ((trace.yaxis || "y") !== ref) continue;
      for (const y of trace.y) {
        if (y == null) continue; // the gaps between joined runs
        if (y > 0 && y < low) low = y;
        if (y > high) high = y;
      }
    }
    if (!(high >= low)) continue; // no data yet
    // A constant rate gets a two-decade autorange, where 1-2-5 ticks work.
    const narrow = high > low && high / low < 10;
    if (narrow && axis.dtick === "D2") Object.assign(updates, { [`${key}.dtick`]: null, [`${key}.tickformat`]: ".4~g" });
    if (!narrow && axis.dtick !== "D2") Object.assign(updates, { [`${key}.dtick`]: "D2", [`${key}.tickformat`]: ".0e" });
  }
  if (Object.keys(updates).length) Plotly.relayout(div, updates);
}

// Margins that already hold the axes' tick labels and titles: when automargin has
// to grow them, Plotly draws the whole chart a second time (about a third of a
// grouped chart's first draw). Automargin stays on for unusually long labels.
export function chartMargin(logY, legend) {
  return { l: logY ? 60 : 48, r: 12, t: legend ? 30 : 10, b: 42 };
}

// A run's colour on the charts and in the runs table; past MERGE_RUN_THRESHOLD runs the colours repeat.
export function runColor(index, runCount) {
  return pickColor(runCount > MERGE_RUN_THRESHOLD ? index % MERGED_COLORS : index);
}

export function pickColor(index) {
  if (index < PALETTE.length) return PALETTE[index];
  // Golden-angle hues keep further colours apart from each other.
  return `hsl(${Math.round((index * 137.508) % 360)}, 60%, 52%)`;
}

function dashOf(series) {
  if (VALIDATION.has(series)) return "dash";
  if (series === "batch_learning_rate") return "dot";
  return "solid";
}

export function readTheme() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return { fg: read("--fg"), muted: read("--muted"), grid: read("--grid"), bg: read("--surface") };
}

// Exponential moving average that can continue from a previous smoothed value.
export function smoothSeries(values, weight, previous = null) {
  if (!weight) return values.slice();
  const out = new Array(values.length);
  let last = previous;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value == null || !Number.isFinite(value)) {
      out[i] = value;
      continue;
    }
    last = last == null ? value : weight * last + (1 - weight) * value;
    out[i] = last;
  }
  return out;
}

export class ChartBoard {
  // runs: [{id, name, state, ...}] in display order; settings: {smooth, logY, xAxis, hidden:Set}.
  constructor(container, runs, settings) {
    this.container = container;
    this.runs = runs;
    this.settings = settings;
    this.store = new Map(runs.map((run) => [run.id, {}]));
    this.colorOf = new Map(runs.map((run, index) => [run.id, runColor(index, runs.length)]));
    this.charts = [];
    this.onLegendToggle = null;
    this.flushScheduled = false;
    this.lastFlushEnd = 0;
    this.lastFlushCost = 0;
    this.flushTicket = 0;
    // Charts report whether they are on screen; off-screen ones defer their redraws.
    this.viewObserver = new IntersectionObserver((items) => {
      for (const item of items) {
        const chart = this.charts.find((c) => c.div === item.target);
        if (!chart) continue;
        chart.inView = item.isIntersecting;
        if (chart.inView && chart.pending.size) this.scheduleFlush();
      }
    }, { rootMargin: "0px" });
    this.onFlush = null;
    // (names, xMin, xMax) => Promise<{runId: {name: {axis, x, y, t}}}>, set by the page.
    this.fetchRange = null;
  }

  // Adds fetched series ({name: {axis, x, y, t}}) of a run, keeping only points past the last x.
  mergeSeries(runId, seriesByName) {
    const additions = {};
    for (const [name, series] of Object.entries(seriesByName || {})) {
      const points = series.x.map((x, i) => ({ x, value: series.y[i], t: series.t ? series.t[i] : null, axis: series.axis }));
      const added = this.appendPoints(runId, name, points);
      if (added.length) additions[name] = added;
    }
    return additions;
  }

  appendPoints(runId, name, points) {
    const runStore = this.store.get(runId);
    if (!runStore) return [];
    const series = (runStore[name] ||= { axis: points[0]?.axis || "epoch", x: [], y: [], t: [] });
    const lastX = series.x.length ? series.x[series.x.length - 1] : -Infinity;
    const fresh = points.filter((point) => point.x > lastX).sort((a, b) => a.x - b.x);
    for (const point of fresh) {
      series.x.push(point.x);
      series.y.push(point.value);
      series.t.push(point.t);
    }
    return fresh;
  }

  render() {
    this.viewObserver.disconnect();
    this.container.replaceChildren();
    this.charts = [];
    const hasSteps = [...this.store.values()].some((s) => STEP_SERIES.some((name) => s[name]?.x.length));
    const definitions = hasSteps || this.settings.showSteps ? [...CHARTS, STEP_CHART] : CHARTS;
    for (const definition of definitions) this.renderChart(definition);
  }

  renderChart(definition) {
    const figure = document.createElement("figure");
    figure.className = `chart chart-${definition.id}`;
    const caption = document.createElement("figcaption");
    const title = document.createElement("span");
    title.textContent = definition.title;
    const exportButton = document.createElement("button");
    exportButton.type = "button";
    exportButton.className = "small secondary";
    exportButton.textContent = "PNG";
    exportButton.setAttribute("aria-label", `Export ${definition.title} as PNG`);
    const div = document.createElement("div");
    div.className = "plot";
    div.id = `chart-${definition.id}`;
    div.dataset.chart = definition.id;
    exportButton.addEventListener("click", () => exportImage(div, "png"));
    const key = document.createElement("span");
    key.className = "muted chart-key";
    key.textContent = definition.step ? "solid: batch loss · dotted: batch lr (right axis)" : definition.series.length > 1 ? "solid: train · dashed: validation" : "";
    caption.append(title, key, exportButton);
    figure.append(caption, div);
    this.container.append(figure);
    // pending: (run, series) -> first store index not yet on this chart; see extendCharts.
    // zoom: the x range drawn at full resolution, or null; zoomTicket drops answers a newer zoom superseded.
    // merged: runs joined into one trace per colour and series; members[trace] = {runs, name} then.
    const chart = { definition, div, index: new Map(), pending: new Map(), pendingSince: 0, inView: true, zoom: null, zoomTicket: 0, merged: false, members: [] };
    const traces = this.buildTraces(chart);
    Plotly.newPlot(div, traces, this.buildLayout(definition), plotConfig({ modeBarButtonsToRemove: ["select2d", "lasso2d"] }));
    fitLogTicks(div);
    div.on("plotly_relayout", (event) => this.onRelayout(chart, event));
    div.on("plotly_legendclick", (event) => {
      const runId = event.data[event.curveNumber].meta.runId;
      this.onLegendToggle?.(runId);
      return false;
    });
    this.charts.push(chart);
    this.viewObserver.observe(div);
    return chart;
  }

  buildTraces(chart) {
    const { definition } = chart;
    chart.merged = this.mergesRuns(definition);
    if (chart.merged) return this.buildMergedTraces(chart);
    const type = this.usesWebGL(definition) ? "scattergl" : "scatter";
    const traces = [];
    for (const run of this.runs) {
      definition.series.forEach((name, seriesIndex) => {
        const { x, y } = this.traceData(run.id, name, definition);
        chart.index.set(`${run.id}:${name}`, traces.length);
        const onSecondAxis = name === "batch_learning_rate";
        traces.push({
          type,
          mode: "lines",
          x,
          y,
          name: escapePlotlyText(run.name),
          legendgroup: String(run.id),
          showlegend: seriesIndex === 0,
          visible: this.settings.hidden.has(run.id) ? "legendonly" : true,
          line: { color: this.colorOf.get(run.id), dash: dashOf(name), width: VALIDATION.has(name) ? 2 : 1.6 },
          yaxis: onSecondAxis ? "y2" : "y",
          meta: { runId: run.id, series: name },
          // Hover shows the run's name (as text: Plotly escapes it) and the value.
          hovertemplate: `%{fullData.name}<br>${name}: %{y:.4g}<br>x: %{x}<extra></extra>`,
        });
      });
    }
    return traces;
  }

  // The step chart keeps a trace per run: its traces are bounded by maxPoints and zoom per run.
  mergesRuns(definition) {
    return !definition.step && this.runs.length > MERGE_RUN_THRESHOLD && !this.settings.legend;
  }

  // One trace per colour and series: the shown runs of that colour, joined with gaps,
  // each point's text naming its run for the hover. Hidden runs are left out.
  buildMergedTraces(chart) {
    const { definition } = chart;
    const type = this.usesWebGL(definition) ? "scattergl" : "scatter";
    const traces = [];
    chart.members = [];
    for (let colour = 0; colour < Math.min(MERGED_COLORS, this.runs.length); colour++) {
      const runs = this.runs.filter((run, index) => index % MERGED_COLORS === colour && !this.settings.hidden.has(run.id));
      for (const name of definition.series) {
        for (const run of runs) chart.index.set(`${run.id}:${name}`, traces.length);
        chart.members.push({ runs, name });
        traces.push({
          type,
          mode: "lines",
          ...this.mergedData(runs, name, definition),
          name,
          showlegend: false,
          line: { color: pickColor(colour), dash: dashOf(name), width: VALIDATION.has(name) ? 2 : 1.6 },
          meta: { runIds: runs.map((run) => run.id), series: name },
          hovertemplate: `%{text}<br>${name}: %{y:.4g}<br>x: %{x}<extra></extra>`,
        });
      }
    }
    return traces;
  }

  mergedData(runs, name, definition) {
    return joinRuns(runs.map((run) => ({ ...this.traceData(run.id, name, definition), label: escapePlotlyText(run.name) })));
  }

  usesWebGL(definition) {
    if (definition.step) return this.runs.length > WEBGL_RUN_THRESHOLD;
    let points = 0;
    for (const runStore of this.store.values()) for (const name of definition.series) points += runStore[name]?.x.length || 0;
    return points > WEBGL_POINT_THRESHOLD;
  }

  traceData(runId, name, definition) {
    const series = this.store.get(runId)?.[name];
    if (!series) return { x: [], y: [] };
    const x = this.pickX(series, definition);
    const weight = this.smoothingFor(name, definition);
    return { x, y: smoothSeries(series.y, weight) };
  }

  pickX(series, definition, from = 0) {
    if (this.settings.xAxis === "time" && !definition.step) return series.t.slice(from);
    return series.x.slice(from);
  }

  // Rates are shown exactly as scheduled; smoothing is for the noisy curves.
  smoothingFor(name, definition) {
    if (name === "learning_rate" || name === "batch_learning_rate") return 0;
    return definition.step ? Math.max(this.settings.smooth, 0) : this.settings.smooth;
  }

  buildLayout(definition) {
    const theme = readTheme();
    const logY = definition.logY || this.settings.logY;
    const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, linecolor: theme.grid, color: theme.muted, automargin: true, exponentformat: "e" };
    const xTitle = definition.step ? "step" : this.settings.xAxis === "time" ? "wall time (s)" : "epoch";
    const layout = {
      margin: chartMargin(logY, this.settings.legend),
      paper_bgcolor: theme.bg,
      plot_bgcolor: theme.bg,
      font: { color: theme.fg, family: "system-ui, sans-serif", size: 12 },
      xaxis: { ...axis, title: { text: xTitle } },
      // On log axes, label only 1-2-5 steps: every minor tick labelled is unreadable.
      yaxis: { ...axis, type: logY ? "log" : "linear", dtick: logY ? "D2" : undefined, tickformat: logY ? ".0e" : undefined, title: { text: definition.step ? "batch_loss" : definition.series[0] } },
      showlegend: this.settings.legend !== false,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 11 } },
      hovermode: "closest",
      uirevision: "keep",
    };
    if (definition.step) {
      layout.yaxis2 = { ...axis, overlaying: "y", side: "right", type: "log", dtick: "D2", tickformat: ".0e", title: { text: "batch_learning_rate" }, showgrid: false };
    }
    return layout;
  }

  // Live points from the stream: [{name, axis, x, value, t}] of one run.
  extendWithPoints(runId, points) {
    const byName = new Map();
    for (const point of points) {
      if (!byName.has(point.name)) byName.set(point.name, []);
      byName.get(point.name).push(point);
    }
    const added = {};
    for (const [name, all] of byName) {
      const list = all[0].axis === "step" ? downsampleSteps(all, LIVE_STEP_BUCKETS) : all;
      const before = this.store.get(runId)?.[name]?.x.length || 0;
      const fresh = this.appendPoints(runId, name, list);
      if (fresh.length) added[name] = before;
    }
    this.extendCharts(runId, added);
    return added;
  }

  // Queues the store's points of each series past index `from` for the traces of `runId`.
  // Messages that arrive within one frame are drawn together (one extendTraces
  // per chart per frame, however many runs report at once), and charts scrolled
  // out of view wait until they come back: a redraw is the expensive part.
  extendCharts(runId, fromByName) {
    let fresh = null;
    if (STEP_SERIES.some((name) => name in fromByName) && !this.charts.some((c) => c.definition.step)) {
      // The step chart appears with the first step points, drawn from the store whole.
      fresh = this.renderChart(STEP_CHART);
    }
    for (const chart of this.charts) {
      if (chart === fresh) continue;
      for (const [name, from] of Object.entries(fromByName)) {
        if (!chart.definition.series.includes(name)) continue;
        const key = `${runId}:${name}`;
        const queued = chart.pending.get(key);
        if (!chart.pending.size) chart.pendingSince = performance.now();
        if (!queued || from < queued.from) chart.pending.set(key, { runId, name, from });
      }
    }
    this.scheduleFlush();
  }

  // After a chart's redraw that took C ms the next waits C/3 ms, so redraws take at
  // most three quarters of the main thread: with 100 runs training (~100 ms a
  // chart without a GPU) the page still answers input, and two charts in view
  // are each drawn about every 0.3 s.
  scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const ticket = ++this.flushTicket;
    const wait = Math.max(0, this.lastFlushEnd + this.lastFlushCost * FLUSH_REST_SHARE - performance.now());
    const flush = () => requestAnimationFrame(() => this.flushPending());
    if (wait > 0) setTimeout(flush, wait);
    else flush();
    // rAF pauses in hidden tabs; the timer keeps a background tab roughly current
    // (only for this schedule: a later one keeps its own wait).
    setTimeout(() => { if (this.flushTicket === ticket) this.flushPending(); }, 1000 + wait);
  }

  // One chart per flush, the one waiting longest: each chart reaches the screen
  // as soon as it is drawn, instead of after every chart in view is.
  flushPending() {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    const started = performance.now();
    let chart = null;
    for (const candidate of this.charts) {
      if (!candidate.pending.size || !candidate.inView) continue;
      if (candidate.zoom) {
        // A zoomed range stays as fetched; the reset draws the store, live points included.
        candidate.pending.clear();
        continue;
      }
      if (!chart || candidate.pendingSince < chart.pendingSince) chart = candidate;
    }
    if (!chart) return;
    const entries = [...chart.pending.values()];
    chart.pending.clear();
    if (chart.merged) this.redrawMembers(chart, entries);
    else this.extendTraces(chart, entries);
    this.lastFlushEnd = performance.now();
    this.lastFlushCost = this.lastFlushEnd - started;
    if (this.charts.some((other) => other.pending.size && other.inView)) this.scheduleFlush();
    this.onFlush?.(entries.map((entry) => ({ ...entry, chart: chart.definition.id })));
  }

  // A joined trace takes a run's new points in its middle: its data is built again
  // from the store (a few thousand numbers), and Plotly draws once either way.
  redrawMembers(chart, entries) {
    const indices = [...new Set(entries.map(({ runId, name }) => chart.index.get(`${runId}:${name}`)))].filter((index) => index !== undefined);
    if (!indices.length) return;
    const update = { x: [], y: [], text: [] };
    for (const index of indices) {
      const { runs, name } = chart.members[index];
      const data = this.mergedData(runs, name, chart.definition);
      update.x.push(data.x);
      update.y.push(data.y);
      update.text.push(data.text);
    }
    Plotly.restyle(chart.div, update, indices);
    fitLogTicks(chart.div);
  }

  extendTraces(chart, entries) {
    const update = { x: [], y: [] };
    const indices = [];
    for (const { runId, name, from } of entries) {
      const index = chart.index.get(`${runId}:${name}`);
      const series = this.store.get(runId)?.[name];
      if (index === undefined || !series) continue;
      const weight = this.smoothingFor(name, chart.definition);
      const trace = chart.div.data[index];
      const previous = weight && trace.y.length ? trace.y[trace.y.length - 1] : null;
      update.x.push(this.pickX(series, chart.definition, from));
      update.y.push(smoothSeries(series.y.slice(from), weight, previous));
      indices.push(index);
    }
    if (!indices.length) return;
    if (chart.definition.step) Plotly.extendTraces(chart.div, update, indices, LIVE_STEP_MAX_POINTS);
    else Plotly.extendTraces(chart.div, update, indices);
    fitLogTicks(chart.div);
  }

  // Only the step chart is downsampled, and only its x (the step) is what x_min / x_max select.
  onRelayout(chart, event) {
    if (!chart.definition.step || !this.fetchRange) return;
    if (event["xaxis.autorange"]) {
      if (chart.zoom) this.redraw(chart);
      return;
    }
    const range = event["xaxis.range"] || [event["xaxis.range[0]"], event["xaxis.range[1]"]];
    if (range[0] == null || range[1] == null) return; // a y-only zoom, or our own tick updates
    const xMin = Math.max(0, Math.floor(range[0]));
    const xMax = Math.max(xMin, Math.ceil(range[1]));
    this.zoomTo(chart, xMin, xMax).catch(() => {}); // the downsample stays on screen when the request fails
  }

  async zoomTo(chart, xMin, xMax) {
    const ticket = ++chart.zoomTicket;
    const seriesByRun = await this.fetchRange(chart.definition.series, xMin, xMax);
    if (ticket !== chart.zoomTicket) return;
    chart.zoom = { xMin, xMax };
    const update = { x: [], y: [] };
    const indices = [];
    for (const run of this.runs) {
      const series = seriesByRun[run.id] || seriesByRun[String(run.id)] || {};
      for (const name of chart.definition.series) {
        const index = chart.index.get(`${run.id}:${name}`);
        if (index === undefined) continue;
        const data = series[name] || { x: [], y: [] };
        update.x.push(data.x);
        update.y.push(smoothSeries(data.y, this.smoothingFor(name, chart.definition)));
        indices.push(index);
      }
    }
    // Live points that arrive meanwhile are past the range: they extend these traces as usual.
    chart.pending.clear();
    Plotly.restyle(chart.div, update, indices);
    chart.div.dataset.zoom = `${xMin}-${xMax}`;
  }

  // One chart drawn again from the store (after a zoom reset or a settings change).
  redraw(chart) {
    chart.zoomTicket += 1;
    chart.zoom = null;
    delete chart.div.dataset.zoom;
    chart.pending.clear();
    chart.index.clear();
    chart.members = [];
    Plotly.react(chart.div, this.buildTraces(chart), this.buildLayout(chart.definition));
    fitLogTicks(chart.div);
  }

  setHidden(hidden) {
    this.settings.hidden = hidden;
    for (const chart of this.charts) {
      // Joined traces leave hidden runs out of their data.
      if (chart.merged) {
        this.redraw(chart);
        continue;
      }
      const visible = chart.div.data.map((trace) => (hidden.has(trace.meta.runId) ? "legendonly" : true));
      Plotly.restyle(chart.div, { visible });
    }
  }

  // Settings that change every trace (smoothing, x axis) rebuild the figures from the store.
  refresh() {
    for (const chart of this.charts) this.redraw(chart);
  }
}

// Runs' series ({x, y, label}) as one trace's data: a gap (null) between two runs,
// and each point's text its run's label, which the hover shows.
export function joinRuns(parts) {
  const x = [];
  const y = [];
  const text = [];
  for (const part of parts) {
    if (!part.x.length) continue;
    if (x.length) {
      x.push(null);
      y.push(null);
      text.push("");
    }
    for (let i = 0; i < part.x.length; i++) {
      x.push(part.x[i]);
      y.push(part.y[i]);
      text.push(part.label);
    }
  }
  return { x, y, text };
}

// Keeps the lowest and highest value of each of `buckets` equal runs of points (in x order).
export function downsampleSteps(points, buckets) {
  if (points.length <= 2 * buckets) return points;
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const size = sorted.length / buckets;
  const kept = [];
  for (let b = 0; b < buckets; b++) {
    const bucket = sorted.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    let low = bucket[0];
    let high = bucket[0];
    for (const point of bucket) {
      if (point.value < low.value) low = point;
      if (point.value > high.value) high = point;
    }
    kept.push(...(low === high ? [low] : low.x < high.x ? [low, high] : [high, low]));
  }
  return kept;
}

// Plotly renders a few HTML tags in names (<b>, <a>, <br>...); entities keep user text literal.
export function escapePlotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// Saves text made in the page (the analysis export) as a file.
export function downloadText(text, filename, type = "text/csv") {
  saveBlob(new Blob([text], { type }), filename);
}

// Re-theme every chart when the OS switches between light and dark.
export function followColorScheme(board) {
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => board.refresh());
}
