// The Run page's "Layer statistics" section: for the chosen tensor one small
// chart per layer (a heatmap of its histograms over epochs, or TensorBoard's
// distribution view of its quantiles), a page of LAYER_PAGE layers at a time so
// a 100-layer network draws 12 charts, and a depth profile (activation std and
// gradient L2 against layer index) with an epoch slider that can play.
// Data: GET /api/runs/{id}/layers; live, one epoch at a time on the SSE `layers` event.

import { getRunLayers } from "./api.js";
import { el } from "./dom.js";
import { drawDistribution, drawHeatmap, drawRunDepth } from "./layercharts.js";
import { TENSORS, depthValues, heatmapData, layerOrder, layerPages, mergeSnapshots, quantileSeries } from "./layerdata.js";

export const LAYER_PAGE = 12;
const PLAY_INTERVAL_MS = 600;

export class RunLayers {
  constructor(root, runId) {
    this.root = root;
    this.runId = runId;
    this.layers = [];
    this.snapshots = [];
    this.tensor = "weights";
    this.view = "heatmap";
    this.page = 0;
    // The depth profile's snapshot; null follows the newest.
    this.epoch = null;
    this.timer = null;
    this.figures = [];
    this.build();
  }

  build() {
    const $ = (id) => this.root.querySelector(`#${id}`);
    this.empty = $("layer-stats-empty");
    this.body = $("layer-stats-body");
    this.tensorSelect = $("layer-tensor");
    this.viewSelect = $("layer-view");
    this.pageSelect = $("layer-page");
    this.grid = $("layer-charts");
    this.slider = $("depth-epoch");
    this.sliderValue = $("depth-epoch-value");
    this.playButton = $("depth-play");
    this.depthDiv = $("depth-profile");
    this.tensorSelect.replaceChildren(...TENSORS.map((tensor) => el("option", { value: tensor }, tensor)));
    this.tensorSelect.addEventListener("change", () => {
      this.tensor = this.tensorSelect.value;
      this.drawLayers();
    });
    this.viewSelect.addEventListener("change", () => {
      this.view = this.viewSelect.value;
      this.drawLayers();
    });
    this.pageSelect.addEventListener("change", () => {
      this.page = Number(this.pageSelect.value);
      this.drawLayers();
    });
    this.slider.addEventListener("input", () => {
      this.stop();
      this.showEpochAt(Number(this.slider.value));
    });
    this.playButton.addEventListener("click", () => (this.timer ? this.stop() : this.play()));
  }

  async load() {
    this.setData(await getRunLayers(this.runId));
  }

  setData(data) {
    this.layers = layerOrder(data);
    this.snapshots = mergeSnapshots([], data.snapshots || []);
    if (!this.layers.length && this.snapshots.length) this.layers = layerOrder({ snapshots: this.snapshots });
    this.render();
  }

  // A live `layers` message: fetch that epoch and extend the charts.
  async addEpoch(epoch) {
    const data = await getRunLayers(this.runId, { epochs: epoch });
    if (!this.layers.length) this.layers = layerOrder(data);
    this.snapshots = mergeSnapshots(this.snapshots, data.snapshots || []);
    if (!this.layers.length) this.layers = layerOrder({ snapshots: this.snapshots });
    this.render();
  }

  render() {
    const has = this.snapshots.length > 0 && this.layers.length > 0;
    this.empty.hidden = has;
    this.body.hidden = !has;
    this.root.dataset.snapshots = String(this.snapshots.length);
    if (!has) return;
    const pages = layerPages(this.layers, LAYER_PAGE);
    this.page = Math.min(this.page, pages.length - 1);
    this.pageSelect.replaceChildren(...pages.map((page, i) => el("option", { value: String(i) },
      `layers ${page[0].index}–${page[page.length - 1].index} (${page[0].name} … ${page[page.length - 1].name})`)));
    this.pageSelect.value = String(this.page);
    this.pageSelect.closest("label").hidden = pages.length < 2;
    this.slider.max = String(this.snapshots.length - 1);
    const started = performance.now();
    this.drawLayers();
    this.showEpochAt(this.epoch == null ? this.snapshots.length - 1 : Math.max(0, this.snapshots.findIndex((s) => s.epoch === this.epoch)));
    this.root.dataset.drawMs = (performance.now() - started).toFixed(1);
  }

  // One figure per layer of the page, reused between draws (a figure is the costly part).
  drawLayers() {
    const page = layerPages(this.layers, LAYER_PAGE)[this.page] || [];
    while (this.figures.length > page.length) this.figures.pop().figure.remove();
    while (this.figures.length < page.length) {
      const title = el("span");
      const plot = el("div", { class: "plot" });
      const figure = el("figure", { class: "chart layer-chart" }, el("figcaption", {}, title), plot);
      this.grid.append(figure);
      this.figures.push({ figure, title, plot });
    }
    page.forEach((layer, i) => {
      const { title, plot } = this.figures[i];
      title.textContent = [layer.name, layer.type, layer.units != null ? `${layer.units} units` : null, layer.activation].filter(Boolean).join(" · ");
      plot.id = `layer-${this.view}-${i}`;
      Object.assign(plot.dataset, { layer: layer.name, tensor: this.tensor, view: this.view });
      if (this.view === "distribution") drawDistribution(plot, quantileSeries(this.snapshots, layer.name, this.tensor), this.tensor);
      else drawHeatmap(plot, heatmapData(this.snapshots, layer.name, this.tensor), this.tensor);
    });
    this.grid.dataset.tensor = this.tensor;
    this.grid.dataset.view = this.view;
  }

  // The depth profile at the slider's snapshot; at the newest one the page follows new epochs.
  showEpochAt(index) {
    const snapshot = this.snapshots[index];
    if (!snapshot) return;
    this.epoch = index === this.snapshots.length - 1 ? null : snapshot.epoch;
    this.slider.value = String(index);
    this.sliderValue.textContent = snapshot.epoch === -1 ? "before training" : `epoch ${snapshot.epoch}`;
    this.depthDiv.dataset.epoch = String(snapshot.epoch);
    drawRunDepth(this.depthDiv, this.layers, {
      activationStd: depthValues(snapshot, this.layers, "activations", "std"),
      gradientL2: depthValues(snapshot, this.layers, "gradients", "l2"),
    });
  }

  play() {
    if (this.snapshots.length < 2) return;
    // From the start again when the slider is at the end.
    let index = Number(this.slider.value) >= this.snapshots.length - 1 ? 0 : Number(this.slider.value);
    this.showEpochAt(index);
    this.playButton.textContent = "Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    this.timer = setInterval(() => {
      index += 1;
      if (index >= this.snapshots.length) {
        this.stop();
        return;
      }
      this.showEpochAt(index);
    }, PLAY_INTERVAL_MS);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.playButton.textContent = "Play";
    this.playButton.setAttribute("aria-pressed", "false");
  }
}
