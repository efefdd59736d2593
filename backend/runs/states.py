"""Run states and the transitions between them."""

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
DIVERGED = "diverged"

ALL_STATES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, DIVERGED)
FINAL_STATES = frozenset({COMPLETED, FAILED, CANCELLED, DIVERGED})
ACTIVE_STATES = frozenset({QUEUED, RUNNING})
