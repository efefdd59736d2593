// Live updates over Server-Sent Events (GET /api/stream?run_ids=...).
// EventSource reconnects by itself; Redis pub/sub has no history, so every
// "ready" means "you may have missed something": events published between the
// page's REST load (or the drop) and the subscription are gone, so the page
// refetches from REST and merges without duplicates (see onResync).

// A `layers` message ({run_id, epoch}) says a layer snapshot was stored: the page fetches it.
export function openRunStream(runIds, { onPoints, onState, onLayers, onResync, onStatus } = {}) {
  if (!runIds.length) return { close() {} };
  const source = new EventSource(`/api/stream?run_ids=${runIds.join(",")}`);
  source.addEventListener("ready", () => {
    onStatus?.("live");
    onResync?.();
  });
  source.addEventListener("points", (event) => onPoints?.(JSON.parse(event.data)));
  source.addEventListener("state", (event) => onState?.(JSON.parse(event.data)));
  source.addEventListener("layers", (event) => onLayers?.(JSON.parse(event.data)));
  source.addEventListener("error", () => onStatus?.(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting"));
  return source;
}

// The EventSource stays alive only for runs that can still change.
export function isActiveState(state) {
  return state === "queued" || state === "running";
}

// The experiments-level stream (GET /api/stream/runs): every run's state changes, and
// "runs" messages naming runs just sent to the workers (submitted anywhere: CLI, another tab).
export function openRunsStream({ onState, onRuns, onResync, onStatus } = {}) {
  const source = new EventSource("/api/stream/runs");
  source.addEventListener("ready", () => {
    onStatus?.("connected");
    onResync?.();
  });
  source.addEventListener("state", (event) => onState?.(JSON.parse(event.data)));
  source.addEventListener("runs", (event) => onRuns?.(JSON.parse(event.data)));
  source.addEventListener("error", () => onStatus?.(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting"));
  return source;
}
