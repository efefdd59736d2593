"""Live per-run progress bars for `reglab submit --wait`, in plain terminal text.

On a terminal the block of bars is redrawn in place with two ANSI codes
(cursor up, clear line); anywhere else (a pipe, CI logs) a line is printed
only when a run's state or epoch changes, so logs stay readable.
"""

from __future__ import annotations

from typing import Any, TextIO

from reglab.states import FINAL_STATES

BAR_WIDTH = 24


def run_line(run: dict[str, Any], name_width: int = 32) -> str:
    """One run as ``#12 name [#####-----] 3/10 running val_acc 0.912``."""
    epochs = run.get("epochs") or (run.get("spec") or {}).get("training", {}).get("epochs") or 0
    epoch = min(run.get("epoch") or 0, epochs) if epochs else 0
    state = run.get("state", "?")
    if state == "completed":
        epoch = epochs or epoch
    filled = int(BAR_WIDTH * epoch / epochs) if epochs else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    name = str(run.get("name") or "")
    if len(name) > name_width:
        name = name[: name_width - 1] + "~"
    line = f"#{run.get('id', '?'):<5} {name:<{name_width}} [{bar}] {epoch:>3}/{epochs:<3} {state:<9}"
    accuracy = _val_accuracy(run)
    if accuracy is not None:
        line += f" val_acc {accuracy:.3f}"
    seconds = run.get("epoch_seconds")
    if state == "running" and isinstance(seconds, (int, float)) and epochs > epoch:
        line += f" ETA {_duration(seconds * (epochs - epoch))}"
    if state in ("failed", "diverged") and run.get("error"):
        line += f"  {str(run['error']).splitlines()[0][:80]}"
    return line


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _val_accuracy(run: dict[str, Any]) -> float | None:
    summary = run.get("summary") or {}
    for key in ("final_val_accuracy", "best_val_accuracy", "val_accuracy"):
        value = summary.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


class ProgressBoard:
    """Draws the runs of one submission until they all reach a final state."""

    def __init__(self, out: TextIO, interactive: bool | None = None):
        self.out = out
        self.interactive = out.isatty() if interactive is None else interactive
        self._drawn_lines = 0
        self._last: dict[Any, tuple[Any, Any]] = {}

    def update(self, runs: list[dict[str, Any]]) -> None:
        width = min(40, max((len(str(r.get("name") or "")) for r in runs), default=10))
        lines = [run_line(run, width) for run in runs]
        if self.interactive:
            if self._drawn_lines:
                # Back to the first line of the previous block, then overwrite it.
                self.out.write(f"\x1b[{self._drawn_lines}F")
            for line in lines:
                self.out.write(f"\x1b[2K{line}\n")
            self._drawn_lines = len(lines)
        else:
            for run, line in zip(runs, lines):
                key = run.get("id")
                marker = (run.get("state"), run.get("epoch"))
                if self._last.get(key) != marker:
                    self._last[key] = marker
                    self.out.write(line + "\n")
        self.out.flush()


def all_final(runs: list[dict[str, Any]]) -> bool:
    return bool(runs) and all(run.get("state") in FINAL_STATES for run in runs)
