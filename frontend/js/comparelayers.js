// The Compare page's "Layers" tab: depth profiles of every run (or of every
// group, mean with its 95 % band) overlaid, and one layer's histograms at one
// epoch overlaid across runs or groups, with tensor, statistic, layer and
// epoch pickers. The server computes all of it in one query
// (GET /api/compare/layers); this module asks and draws. Its state lives in
// the page's URL with the rest of the page's (see compare.js).

import { getCompareLayers } from "./api.js";
import { pickColor } from "./charts.js";
import { el } from "./dom.js";
import { drawCompareDepth, drawCompareHistograms } from "./layercharts.js";
import { TENSORS } from "./layerdata.js";

const COMMON_STATS = ["std", "mean", "l2", "abs_max", "zero_fraction"];
export const STATS_OF = {
  weights: [...COMMON_STATS, "max_col_norm"],
  activations: [...COMMON_STATS, "saturated_fraction"],
  gradients: COMMON_STATS,
};
const REFRESH_MS = 2000;

export class CompareLayers {
  // settings: the page's settings (runIds, group, layerTensor, layerStat, layerName, layerEpoch, histLog, profileLog);
  // colors: {run(runId), group(label)} -> colour, the page's so a run looks alike on every tab; onChange: writes the URL.
  constructor(root, settings, colors, onChange) {
    this.root = root;
    this.settings = settings;
    this.colors = colors;
    this.onChange = onChange;
    this.answer = null;
    this.cache = new Map();
    this.ticket = 0;
    this.timer = null;
    this.build();
  }

  build() {
    const $ = (id) => this.root.querySelector(`#${id}`);
    this.tensorSelect = $("layers-tensor");
    this.statSelect = $("layers-stat");
    this.layerSelect = $("layers-layer");
    this.slider = $("layers-epoch");
    this.sliderValue = $("layers-epoch-value");
    this.histLog = $("layers-hist-log");
    this.profileLog = $("layers-profile-log");
    this.message = $("layers-message");
    this.profileDiv = $("layers-profile");
    this.histDiv = $("layers-histogram");
    this.tensorSelect.replaceChildren(...TENSORS.map((tensor) => el("option", { value: tensor }, tensor)));
    this.tensorSelect.value = this.settings.layerTensor;
    this.fillStats();
    this.histLog.checked = this.settings.histLog;
    this.profileLog.checked = this.settings.profileLog;
    this.tensorSelect.addEventListener("change", () => {
      this.settings.layerTensor = this.tensorSelect.value;
      this.fillStats();
      this.reload();
    });
    this.statSelect.addEventListener("change", () => {
      this.settings.layerStat = this.statSelect.value;
      this.reload();
    });
    this.layerSelect.addEventListener("change", () => {
      this.settings.layerName = this.layerSelect.value;
      this.onChange();
      this.drawHistograms();
    });
    this.histLog.addEventListener("change", () => {
      this.settings.histLog = this.histLog.checked;
      this.onChange();
      this.drawHistograms();
    });
    this.profileLog.addEventListener("change", () => {
      this.settings.profileLog = this.profileLog.checked;
      this.onChange();
      this.drawProfile();
    });
    this.slider.addEventListener("input", () => {
      const epoch = this.answer?.epochs[Number(this.slider.value)];
      if (epoch == null) return;
      this.settings.layerEpoch = String(epoch);
      this.reload();
    });
  }

  fillStats() {
    const stats = STATS_OF[this.settings.layerTensor] || COMMON_STATS;
    if (!stats.includes(this.settings.layerStat)) this.settings.layerStat = "std";
    this.statSelect.replaceChildren(...stats.map((stat) => el("option", { value: stat }, stat)));
    this.statSelect.value = this.settings.layerStat;
  }

  params() {
    const { runIds, group, layerEpoch, layerTensor, layerStat } = this.settings;
    return { run_ids: runIds, epoch: layerEpoch || "last", tensor: layerTensor, stat: layerStat, group_by: group || "none" };
  }

  // Answers are kept per query, so sliding back over epochs seen draws at once.
  async reload({ fresh = false } = {}) {
    this.onChange();
    const params = this.params();
    const key = JSON.stringify(params);
    const ticket = ++this.ticket;
    let answer = fresh ? null : this.cache.get(key);
    if (!answer) {
      this.root.dataset.loading = "1";
      try {
        answer = await getCompareLayers(params);
      } catch (error) {
        if (ticket !== this.ticket) return;
        delete this.root.dataset.loading;
        this.showMessage(`Could not load the layer statistics: ${error.message}`);
        return;
      }
      this.cache.set(key, answer);
    }
    if (ticket !== this.ticket) return; // a newer choice superseded this answer
    delete this.root.dataset.loading;
    this.setAnswer(answer);
  }

  // Live runs add snapshots: fetch the current view again, at most every 2 s.
  refreshSoon() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.cache.clear();
      this.reload({ fresh: true });
    }, REFRESH_MS);
  }

  setAnswer(answer) {
    this.answer = answer;
    const has = answer.layers.length > 0 && answer.profiles.some((profile) => profile.values.some((value) => value != null));
    this.root.querySelector("#layers-body").hidden = !has;
    if (!has) {
      this.showMessage("No layer statistics recorded for these runs.");
      this.root.dataset.drawn = String(Number(this.root.dataset.drawn || 0) + 1);
      return;
    }
    this.showMessage("");
    const names = answer.layers.map((layer) => layer.name);
    if (!names.includes(this.settings.layerName)) this.settings.layerName = names[0];
    this.layerSelect.replaceChildren(...answer.layers.map((layer) => el("option", { value: layer.name }, `${layer.index} · ${layer.name}`)));
    this.layerSelect.value = this.settings.layerName;
    this.slider.max = String(Math.max(0, answer.epochs.length - 1));
    const last = this.settings.layerEpoch === "last" || !this.settings.layerEpoch;
    const position = last ? answer.epochs.length - 1 : answer.epochs.indexOf(Number(this.settings.layerEpoch));
    this.slider.value = String(Math.max(0, position));
    const epochs = [...new Set(answer.profiles.map((profile) => profile.epoch))];
    this.sliderValue.textContent = last ? `last (${epochs.length === 1 ? `epoch ${epochs[0]}` : "each run's own"})` : Number(this.settings.layerEpoch) === -1 ? "before training" : `epoch ${this.settings.layerEpoch}`;
    this.root.dataset.epoch = last ? "last" : String(this.settings.layerEpoch);
    this.onChange();
    const started = performance.now();
    this.drawProfile();
    this.drawHistograms();
    this.root.dataset.drawMs = (performance.now() - started).toFixed(1);
    // Counts the draws, so a test (or the bench) can wait for the one it caused.
    this.root.dataset.drawn = String(Number(this.root.dataset.drawn || 0) + 1);
  }

  colorOf = (profile, index) => {
    if (!profile?.key) return pickColor(index);
    if (profile.key.startsWith("run:")) return this.colors.run(Number(profile.key.slice(4))) || pickColor(index);
    return this.colors.group(profile.key.slice("group:".length)) || this.colors.group(profile.label) || pickColor(index);
  };

  drawProfile() {
    if (!this.answer) return;
    drawCompareDepth(this.profileDiv, this.answer, this.colorOf, this.settings.profileLog);
  }

  drawHistograms() {
    if (!this.answer) return;
    this.histDiv.dataset.layer = this.settings.layerName;
    drawCompareHistograms(this.histDiv, this.answer, this.settings.layerName, this.colorOf, this.settings.histLog);
  }

  showMessage(text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  }
}
