// Per-layer snapshots (GET /api/runs/{id}/layers) shaped for the charts: pure
// functions, no DOM and no Plotly, so node tests run them as the browser does.
// The statistics themselves come from the server; this module only lays out
// what it sent (histograms of one run put on one grid across epochs, quantiles
// as bands, one statistic against depth).

export const TENSORS = ["weights", "activations", "gradients"];
// TensorBoard's basis points, in the order of each snapshot's `quantiles`.
export const QUANTILE_POINTS = [0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32, 100];
// The distribution view's bands, outermost first: pairs of quantile indices.
export const QUANTILE_BANDS = [[0, 8], [1, 7], [2, 6], [3, 5]];
export const MEDIAN = 4;
// The most bins a common grid gets: the contract's nested grids never need more
// than 128; other edges (TensorBoard imports) are capped here.
export const MAX_GRID_BINS = 256;

// Layers in input-to-output order: the descriptions when the run has them, else
// the first snapshot's keys in the order the server sent them.
export function layerOrder(data) {
  if (data.layers?.length) return [...data.layers].sort((a, b) => a.index - b.index);
  const first = data.snapshots?.[0];
  return first ? Object.keys(first.layers).map((name, index) => ({ index, name })) : [];
}

// One grid covering every histogram, with the widest bin among them: a bin of
// the contract's power-of-two grids (0 an edge of each) then falls inside one
// bin of it, so re-binning moves whole counts and stays exact.
export function commonGrid(hists) {
  let low = Infinity;
  let high = -Infinity;
  let width = 0;
  for (const hist of hists) {
    const edges = hist?.edges;
    if (!edges || edges.length < 2) continue;
    low = Math.min(low, edges[0]);
    high = Math.max(high, edges[edges.length - 1]);
    width = Math.max(width, (edges[edges.length - 1] - edges[0]) / (edges.length - 1));
  }
  if (!(width > 0) || !(high > low)) return null;
  // Start on a multiple of the width, so 0 stays an edge.
  const start = Math.floor(low / width + 1e-9) * width;
  let bins = Math.ceil((high - start) / width - 1e-9);
  if (bins > MAX_GRID_BINS) {
    width = (high - start) / MAX_GRID_BINS;
    bins = MAX_GRID_BINS;
  }
  return Array.from({ length: bins + 1 }, (_, i) => start + i * width);
}

// A histogram's counts on `grid`: each source bin's count goes to the grid bins it
// overlaps, in proportion to the overlap (all of it to one bin on nested grids).
export function rebin(hist, grid) {
  const out = new Array(grid.length - 1).fill(0);
  const width = grid[1] - grid[0];
  const { edges, counts } = hist;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i];
    if (!count) continue;
    const a = edges[i];
    const b = edges[i + 1];
    const first = Math.max(0, Math.floor((a - grid[0]) / width + 1e-9));
    const last = Math.min(out.length - 1, Math.ceil((b - grid[0]) / width - 1e-9) - 1);
    if (last <= first) {
      out[Math.min(first, out.length - 1)] += count;
      continue;
    }
    for (let k = first; k <= last; k++) {
      const overlap = Math.min(b, grid[k + 1]) - Math.max(a, grid[k]);
      if (overlap > 0) out[k] += (count * overlap) / (b - a);
    }
  }
  return out;
}

const statsOf = (snapshot, layer, tensor) => snapshot.layers?.[layer]?.[tensor] || null;

// Heatmap data of one layer's tensor: x the epochs, y the common grid's bin
// centres, z[bin][epoch] the share of the tensor's values in that bin (null where
// an epoch has no histogram), so columns of different sizes read alike.
export function heatmapData(snapshots, layer, tensor) {
  const hists = snapshots.map((snapshot) => statsOf(snapshot, layer, tensor)?.hist || null);
  const grid = commonGrid(hists);
  if (!grid) return null;
  const x = snapshots.map((snapshot) => snapshot.epoch);
  const y = grid.slice(0, -1).map((edge, i) => (edge + grid[i + 1]) / 2);
  const z = y.map(() => new Array(x.length).fill(null));
  hists.forEach((hist, column) => {
    if (!hist) return;
    const counts = rebin(hist, grid);
    const total = counts.reduce((sum, c) => sum + c, 0);
    if (!total) return;
    counts.forEach((count, row) => {
      z[row][column] = count / total;
    });
  });
  return { x, y, z, edges: grid };
}

// The distribution view: for each band its lower and upper quantile over epochs,
// and the median line; epochs without quantiles are left out.
export function quantileSeries(snapshots, layer, tensor) {
  const rows = snapshots
    .map((snapshot) => ({ epoch: snapshot.epoch, q: statsOf(snapshot, layer, tensor)?.quantiles }))
    .filter((row) => Array.isArray(row.q) && row.q.length === QUANTILE_POINTS.length);
  const x = rows.map((row) => row.epoch);
  return {
    x,
    bands: QUANTILE_BANDS.map(([lo, hi]) => ({
      label: `${QUANTILE_POINTS[lo]}–${QUANTILE_POINTS[hi]} %`,
      lo: rows.map((row) => row.q[lo]),
      hi: rows.map((row) => row.q[hi]),
    })),
    median: rows.map((row) => row.q[MEDIAN]),
  };
}

// One statistic of one tensor against layer index at one snapshot (null where missing).
export function depthValues(snapshot, layers, tensor, stat) {
  return layers.map((layer) => {
    const value = snapshot ? statsOf(snapshot, layer.name, tensor)?.[stat] : null;
    return typeof value === "number" && Number.isFinite(value) ? value : null;
  });
}

// Snapshots merged by epoch (a re-posted epoch replaces the old one), sorted.
export function mergeSnapshots(current, incoming) {
  const byEpoch = new Map(current.map((snapshot) => [snapshot.epoch, snapshot]));
  for (const snapshot of incoming) byEpoch.set(snapshot.epoch, snapshot);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

// Layers shown together on the Run page: pages of `size`, so 100 layers draw 12 charts, not 100.
export function layerPages(layers, size) {
  const pages = [];
  for (let i = 0; i < layers.length; i += size) pages.push(layers.slice(i, i + size));
  return pages;
}

// The centres of a histogram grid's bins (the compare page's overlaid histograms).
export function binCentres(edges) {
  return edges.slice(0, -1).map((edge, i) => (edge + edges[i + 1]) / 2);
}
