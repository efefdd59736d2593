"""Run states and the transitions between them."""

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
DIVERGED = "diverged"
# Stopped by a study's pruner: its objective was hopeless at some epoch (not a person's cancel).
PRUNED = "pruned"

ALL_STATES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, DIVERGED, PRUNED)
FINAL_STATES = frozenset({COMPLETED, FAILED, CANCELLED, DIVERGED, PRUNED})
ACTIVE_STATES = frozenset({QUEUED, RUNNING})
