// "Find learning rate" on New study: POST /api/lr-finder for the form's spec, wait for
// the run, plot its loss against the rate (log x) with the suggestion marked, and fill
// the form's learning rate when the person accepts it.

import { buildQuery, fetchJson, sendJson } from "./api.js";
import { el } from "./dom.js";
import { readTheme } from "./charts.js";
import { plotConfig } from "./export.js";

/* global Plotly */

const POLL_MS = 700;
const FINAL = new Set(["completed", "failed", "cancelled", "diverged", "pruned"]);

async function waitFinal(runId) {
  for (;;) {
    const run = await fetchJson(`/api/runs/${runId}`);
    if (FINAL.has(run.state)) return run;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function plot(node, series, summary) {
  const rates = series.finder_rate.y;
  const theme = readTheme();
  const traces = [
    { x: rates, y: series.finder_loss.y, name: "batch loss", mode: "lines", line: { width: 1 } },
    { x: rates, y: series.finder_loss_mean?.y || [], name: "running mean (Keras)", mode: "lines", line: { dash: "dot", width: 1.5 } },
  ];
  const shapes = summary.suggested_learning_rate
    ? [{ type: "line", xref: "x", yref: "paper", x0: summary.suggested_learning_rate, x1: summary.suggested_learning_rate, y0: 0, y1: 1, line: { dash: "dash", color: theme.fg } }]
    : [];
  const axis = { gridcolor: theme.grid, color: theme.muted };
  Plotly.newPlot(node, traces, {
    margin: { l: 50, r: 10, t: 10, b: 40 },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: theme.fg, size: 11 },
    xaxis: { ...axis, type: "log", title: { text: "learning rate" } },
    yaxis: { ...axis, title: { text: "loss" } },
    shapes, legend: { orientation: "h", y: -0.3 },
  }, plotConfig());
}

// mount({ button, panel, getSpec, accept(rate) }): wires the button and fills the panel.
export function mountFinder({ button, panel, getSpec, accept }) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    const status = el("p", { class: "help", role: "status" }, "Queuing the finder run…");
    panel.replaceChildren(status);
    panel.hidden = false;
    try {
      const queued = await sendJson("/api/lr-finder", "POST", { spec: getSpec(), min_rate: 1e-5, max_rate: 10, batches: null });
      status.textContent = `Finder run #${queued.id} is training one epoch with a growing rate…`;
      const run = await waitFinal(queued.id);
      if (run.state !== "completed") throw new Error(`the finder run ended ${run.state}${run.error ? `: ${run.error}` : ""}`);
      const metrics = await fetchJson(`/api/runs/${run.id}/metrics${buildQuery({ names: "finder_loss,finder_rate,finder_loss_mean" })}`);
      const summary = run.summary || {};
      const chart = el("div", { class: "plot preview-plot", id: "finder-chart", "data-chart": "lr-finder" });
      const rate = summary.suggested_learning_rate;
      const use = el("button", { type: "button", class: "secondary", id: "finder-accept" }, `Use ${rate?.toPrecision(2)}`);
      use.addEventListener("click", () => accept(Number(rate.toPrecision(2))));
      status.textContent = rate ? `Suggested: ${rate.toPrecision(2)}. ${summary.suggestion_method}` : "No suggestion: the loss was never finite.";
      panel.replaceChildren(status, chart, rate ? use : "");
      if (typeof Plotly !== "undefined") plot(chart, metrics.series, summary);
      window.reglabFinder = { run, series: metrics.series };
    } catch (error) {
      status.textContent = `The finder failed: ${error.body?.detail ? JSON.stringify(error.body.detail) : error.message}`;
    } finally {
      button.disabled = false;
    }
  });
}
