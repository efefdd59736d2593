// The results table of an analysis (one row per group) and its CSV / JSON export.
// Shared by the Compare page (grouped) and the Study page. Every number comes from
// the server's analysis (GET /api/experiments/{id}/analysis or /api/compare?group_by=).

import { el, formatNumber } from "./dom.js";

export const METRIC_LABELS = {
  best_val_accuracy: "best val accuracy",
  final_val_accuracy: "final val accuracy",
  test_accuracy: "test accuracy",
  mc_test_accuracy: "MC test accuracy",
  final_val_loss: "final val loss",
  final_gap: "final gap (val − train data loss)",
  final_sparsity: "final sparsity",
  final_weight_l2: "final weight L2",
  best_epoch: "best epoch",
  epoch_time: "epoch time (s)",
  final_accuracy: "final train accuracy",
  final_data_loss: "final train data loss",
  final_val_data_loss: "final val data loss",
};

export const COLUMNS = [
  { key: "label", label: "Condition" },
  { key: "n", label: "n", num: true },
  { key: "mean", label: "mean ± std", num: true },
  { key: "diff", label: "Δ vs baseline [95 % CI]", num: true },
  { key: "g", label: "Hedges' g", num: true },
  { key: "p", label: "adjusted p", num: true },
  { key: "verdict", label: "verdict" },
];

export function fillMetricSelect(select, analysis, current) {
  const names = (analysis.metric_info || []).map((info) => info.name);
  select.replaceChildren(...names.map((name) => el("option", { value: name }, METRIC_LABELS[name] || name)));
  select.value = names.includes(current) ? current : analysis.metric;
}

function sortValue(group, key, metric) {
  const stats = group.metrics[metric] || {};
  const vs = group.vs_baseline[metric] || {};
  return { label: group.label, n: group.n, mean: stats.mean, diff: vs.diff, g: vs.hedges_g, p: vs.p_adjusted, verdict: vs.verdict }[key];
}

export function sortGroups(groups, sort, metric) {
  if (!sort || !sort.key) return groups;
  const sign = sort.desc ? -1 : 1;
  return [...groups].sort((a, b) => {
    const x = sortValue(a, sort.key, metric);
    const y = sortValue(b, sort.key, metric);
    if (x == null && y == null) return 0;
    if (x == null) return 1;
    if (y == null) return -1;
    return (typeof x === "string" ? x.localeCompare(y) : x - y) * sign;
  });
}

function fmt(value) {
  return formatNumber(value, 4);
}

function formatP(p) {
  if (p == null) return "–";
  return p < 0.001 ? "< 0.001" : p.toFixed(3);
}

// table: <table>; colorOf: label -> colour; sort: {key, desc}; onSort(key) when a header is clicked.
export function renderResultsTable(table, analysis, { metric, sort, colorOf, onSort, highlight } = {}) {
  metric = metric || analysis.metric;
  const head = el("tr", {}, COLUMNS.map((column) => {
    const active = sort && sort.key === column.key;
    const button = el("button", { type: "button", class: "sort-button", dataset: { sort: column.key }, onclick: () => onSort?.(column.key) },
      column.label, active ? (sort.desc ? " ▼" : " ▲") : "");
    return el("th", { scope: "col", class: column.num ? "num" : null, "aria-sort": active ? (sort.desc ? "descending" : "ascending") : "none" }, button);
  }));
  const rows = sortGroups(analysis.groups, sort, metric).map((group) => {
    const stats = group.metrics[metric] || {};
    const vs = group.vs_baseline[metric];
    const isBaseline = group.label === analysis.baseline;
    const verdict = isBaseline ? el("span", { class: "verdict verdict-baseline" }, "baseline")
      : vs?.verdict ? el("span", { class: `verdict verdict-${vs.verdict.replace(/ /g, "-")}`, title: vs.reason || "" }, vs.verdict)
        : el("span", { class: "verdict verdict-none muted", title: vs?.reason || "" }, vs?.reason ? "no test" : "–");
    const diff = !vs || vs.diff == null ? "–" : `${vs.diff > 0 ? "+" : ""}${fmt(vs.diff)}${vs.ci95?.[0] != null ? ` [${fmt(vs.ci95[0])}, ${fmt(vs.ci95[1])}]` : ""}`;
    return el("tr", { dataset: { group: group.label }, class: [isBaseline ? "baseline" : "", highlight === group.label ? "best" : ""].join(" ").trim() || null },
      el("th", { scope: "row" }, el("span", { class: "swatch", style: `background:${colorOf?.get(group.label) || "transparent"}` }), group.label,
        group.running ? el("span", { class: "muted small" }, ` (${group.running} running)`) : null),
      el("td", { class: "num" }, String(stats.n ?? 0), stats.n !== group.n ? el("span", { class: "muted" }, ` / ${group.n}`) : null),
      el("td", { class: "num", dataset: { key: "mean" } }, stats.mean == null ? "–" : `${fmt(stats.mean)}${stats.std != null ? ` ± ${fmt(stats.std)}` : ""}`),
      el("td", { class: "num" }, isBaseline ? "–" : diff),
      el("td", { class: "num" }, isBaseline ? "–" : fmt(vs?.hedges_g)),
      el("td", { class: "num", title: vs?.p_value != null ? `unadjusted p = ${vs.p_value.toPrecision(3)} (${vs.test})` : "" }, isBaseline ? "–" : formatP(vs?.p_adjusted)),
      el("td", { class: "verdict-cell" }, verdict, vs?.reason ? el("div", { class: "muted small reason" }, vs.reason) : null));
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
}

// The best group by the ranking metric and its margin over the runner-up and over the baseline.
export function bestCondition(analysis, metric) {
  metric = metric || analysis.metric;
  const direction = (analysis.metric_info || []).find((info) => info.name === metric)?.direction || "higher";
  const ranked = analysis.groups.filter((g) => g.metrics[metric]?.mean != null)
    .sort((a, b) => (direction === "lower" ? a.metrics[metric].mean - b.metrics[metric].mean : b.metrics[metric].mean - a.metrics[metric].mean));
  if (!ranked.length) return null;
  const [best, next] = ranked;
  return { group: best, metric, direction, margin: next ? best.metrics[metric].mean - next.metrics[metric].mean : null, next, vs: best.vs_baseline[metric] || null };
}

// "<label> is best by <metric>: <mean>, +<margin> over the next (<label>); vs baseline ..." in `node`
// (hidden when there is one condition only).
export function renderBestCondition(node, analysis, metric) {
  metric = metric || analysis.metric;
  const best = analysis.groups.length > 1 ? bestCondition(analysis, metric) : null;
  node.hidden = !best;
  if (!best) return null;
  const label = METRIC_LABELS[metric] || metric;
  const mean = best.group.metrics[metric].mean;
  const parts = [el("strong", {}, best.group.label), ` is best by ${label}: ${formatNumber(mean)}`];
  if (best.next) parts.push(`, ${best.margin >= 0 ? "+" : ""}${formatNumber(best.margin)} over the next (${best.next.label})`);
  if (best.vs?.verdict) parts.push(`; vs baseline ${formatNumber(best.vs.diff)} (${best.vs.verdict}, adjusted p ${best.vs.p_adjusted?.toFixed(3)})`);
  else if (best.group.label === analysis.baseline) parts.push("; it is the baseline");
  node.replaceChildren(...parts);
  return best;
}

// Text cells that a spreadsheet would run as a formula are prefixed with a quote;
// numbers (a negative difference) stay numbers.
export function csvCell(value) {
  let text = value == null ? "" : String(value);
  if (typeof value !== "number" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// Long format: one row per group and summary metric.
export function analysisCsv(analysis) {
  const header = ["group", "baseline", "metric", "n", "mean", "std", "sem", "ci95_lo", "ci95_hi", "min", "max",
    "diff", "diff_ci95_lo", "diff_ci95_hi", "hedges_g", "p_value", "p_adjusted", "test", "verdict", "reason"];
  const rows = [header];
  for (const group of analysis.groups) {
    for (const [metric, stats] of Object.entries(group.metrics)) {
      const vs = group.vs_baseline[metric] || {};
      rows.push([group.label, group.label === analysis.baseline ? "yes" : "no", metric, stats.n, stats.mean, stats.std, stats.sem,
        stats.ci95?.[0], stats.ci95?.[1], stats.min, stats.max, vs.diff, vs.ci95?.[0], vs.ci95?.[1], vs.hedges_g,
        vs.p_value, vs.p_adjusted, vs.test, vs.verdict, vs.reason]);
    }
  }
  return rows.map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}
