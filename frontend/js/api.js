// The REST API, one small function per call. Errors carry the parsed body so
// forms can show 422 details next to their fields.

export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
  }
}

function describeError(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((item) => `${item.field}: ${item.msg}`).join("; ");
  return `HTTP ${status}`;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// The double-submit CSRF token: the server set it in a readable cookie at sign-in
// and expects it back in X-CSRF-Token on every write made with the session cookie.
export function csrfToken() {
  const entry = document.cookie.split("; ").find((part) => part.startsWith("reglab_csrf="));
  return entry ? decodeURIComponent(entry.slice("reglab_csrf=".length)) : "";
}

// Headers for a request: Accept JSON, plus the CSRF token on writes.
export function requestHeaders(method = "GET", headers = {}) {
  const result = { Accept: "application/json", ...headers };
  const token = csrfToken();
  if (!SAFE_METHODS.has(method.toUpperCase()) && token) result["X-CSRF-Token"] = token;
  return result;
}

export async function fetchJson(url, options = {}) {
  const method = options.method || "GET";
  const response = await fetch(url, { ...options, headers: requestHeaders(method, options.headers), credentials: "same-origin" });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function sendJson(url, method, payload) {
  return fetchJson(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
}

export function buildQuery(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value == null || value === "") continue;
    query.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}

export const getSchema = () => fetchJson("/api/spec/schema");
export const getDefaultSpec = () => fetchJson("/api/spec/default");
export const validateSpec = (spec) => sendJson("/api/spec/validate", "POST", spec);
export const createExperiment = (payload) => sendJson("/api/experiments", "POST", payload);
export const planExperiment = (payload) => sendJson("/api/experiments/plan", "POST", payload);
export const listExperiments = (params = { limit: 500 }) => fetchJson(`/api/experiments${buildQuery(params)}`);
export const listRuns = (params) => fetchJson(`/api/runs${buildQuery(params)}`);
export const getRun = (id) => fetchJson(`/api/runs/${id}`);
export const getRunSummary = (id) => fetchJson(`/api/runs/${id}/summary`);
export const cancelRun = (id) => sendJson(`/api/runs/${id}/cancel`, "POST");
export const cloneRun = (id) => sendJson(`/api/runs/${id}/clone`, "POST", {});
export const deleteRun = (id) => sendJson(`/api/runs/${id}`, "DELETE");
export const getMetrics = (id, params = {}) => fetchJson(`/api/runs/${id}/metrics${buildQuery(params)}`);
export const getComparison = (params) => fetchJson(`/api/compare${buildQuery(params)}`);
export const getRunLayers = (id, params = {}) => fetchJson(`/api/runs/${id}/layers${buildQuery(params)}`);
export const getCompareLayers = (params) => fetchJson(`/api/compare/layers${buildQuery(params)}`);
export const getSession = () => fetchJson("/api/session");
export const signIn = (token) => sendJson("/api/session", "POST", { token });
export const signOut = () => sendJson("/api/session", "DELETE");
