// DOM helpers. User text (names, descriptions, tags, errors) only ever goes
// through textContent here: nothing in the dashboard builds HTML from data.

// el("a", {href: "/x", class: "btn"}, "text", child) -> element. Strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  appendChildren(node, children);
  return node;
}

export function appendChildren(node, children) {
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clearNode(node) {
  node.replaceChildren();
  return node;
}

export function formatNumber(value, digits = 4) {
  if (value == null || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

export function formatPercent(value) {
  return value == null ? "–" : `${(value * 100).toFixed(2)} %`;
}

export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

// Spec values for tables and names: schedules and lists as compact JSON.
export function formatValue(value) {
  if (value == null) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "number") return formatNumber(value, 6);
  return String(value);
}

export function renderStateBadge(state) {
  return el("span", { class: `badge state-${state}`, dataset: { state } }, state);
}

// A progress bar with its ETA (epoch_seconds × epochs left) for running runs.
export function renderProgress(run) {
  const { epochs } = run;
  const done = Math.min(run.epoch, epochs);
  const fraction = epochs ? done / epochs : 0;
  const wrap = el("div", { class: "progress-wrap" });
  const bar = el("progress", { max: epochs || 1, value: done, "aria-label": `epoch ${done} of ${epochs}` });
  wrap.append(bar, el("span", { class: "progress-text" }, `${done}/${epochs}`));
  if (run.state === "running" && run.epoch_seconds && epochs) {
    wrap.append(el("span", { class: "eta", title: "estimated time left" }, `ETA ${formatDuration(run.epoch_seconds * (epochs - done))}`));
  }
  const attempt = renderAttempt(run);
  if (attempt) wrap.append(attempt);
  wrap.dataset.fraction = fraction.toFixed(3);
  return wrap;
}

// "attempt 2 of 3" once a worker died under the run (re-queued to resume); the reasons as its tooltip.
export function renderAttempt(run) {
  if (!(run.attempts > 1) && !(run.attempt_errors || []).length) return null;
  const reasons = (run.attempt_errors || []).join("\n");
  // A re-queued run waits for its next attempt.
  const number = run.state === "queued" ? run.attempts + 1 : Math.max(run.attempts, 1);
  return el("span", { class: "attempt", title: reasons, dataset: { attempts: run.attempts } },
    `attempt ${number} of ${run.max_attempts}`);
}

// Shows a transient message in the page's status line (role=status, read by screen readers).
export function showStatus(message, kind = "info") {
  const node = document.getElementById("status");
  if (!node) return;
  node.textContent = message;
  node.dataset.kind = kind;
}

export function setJsonTwin(href) {
  let link = document.querySelector('link[rel="alternate"][type="application/json"]');
  if (!link) {
    link = el("link", { rel: "alternate", type: "application/json" });
    document.head.append(link);
  }
  link.href = href;
  const anchor = document.getElementById("json-twin");
  if (anchor) anchor.href = href;
}
