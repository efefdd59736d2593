"""Runs read back for notebooks: :class:`RunList` and its DataFrame, as MLflow's ``search_runs`` gives them.

pandas is an optional extra (``pip install 'reglab[frames]'``): importing this
module does not need it, only :meth:`RunList.to_pandas` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reglab.spec import flatten

if TYPE_CHECKING:
    import pandas as pd

    from reglab.client import Client

PAGE = 500  # the API's largest page
FRAME_COLUMNS = ("id", "name", "state", "experiment_id", "created_at")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("DataFrames of runs need pandas: pip install 'reglab[frames]'") from exc
    return pandas


def run_params(spec: dict[str, Any] | None) -> dict[str, Any]:
    """A run's params, flattened: its spec's leaves, or an external run's free-form params."""
    if not isinstance(spec, dict):
        return {}
    external = spec.get("external")
    if isinstance(external, dict):
        params = external.get("params")
        return flatten(params) if isinstance(params, dict) else {}
    return flatten(spec)


class RunList:
    """The runs a query found, in the API's order: a list of run dicts (with their specs) and :meth:`to_pandas`."""

    def __init__(self, runs: list[dict[str, Any]]):
        self._runs = runs

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._runs[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._runs)

    def __repr__(self) -> str:
        return f"RunList({len(self._runs)} runs)"

    def to_pandas(self) -> pd.DataFrame:
        """One row per run: id, name, state, experiment_id, created_at, ``params.<path>``, ``metrics.<name>``, tags."""
        pandas = _pandas()
        rows = []
        for run in self._runs:
            row = {key: run.get(key) for key in FRAME_COLUMNS}
            row.update({f"params.{key}": value for key, value in run_params(run.get("spec")).items()})
            row.update({f"metrics.{key}": value for key, value in (run.get("summary") or {}).items()})
            row["tags"] = list(run.get("tags") or [])
            rows.append(row)
        frame = pandas.DataFrame(rows)
        if frame.empty:
            return pandas.DataFrame(columns=[*FRAME_COLUMNS, "tags"])
        ordered = [*FRAME_COLUMNS, *sorted(c for c in frame.columns if c.startswith("params.")),
                   *sorted(c for c in frame.columns if c.startswith("metrics.")), "tags"]  # fmt: skip
        return frame[ordered]


def list_runs(
    client: Client, experiment_id: int | None = None, filter: str | None = None,  # noqa: A002 - as the API names it
    state: str | None = None, limit: int | None = None,
) -> RunList:
    """Every run matching (up to ``limit``), paging through GET /api/runs."""
    runs: list[dict[str, Any]] = []
    params: dict[str, Any] = {"with_spec": "true", "sort": "-created"}
    for key, value in (("experiment_id", experiment_id), ("filter", filter), ("state", state)):
        if value is not None:
            params[key] = value
    while limit is None or len(runs) < limit:
        size = PAGE if limit is None else min(PAGE, limit - len(runs))
        page = client.json("GET", "/api/runs", params={**params, "limit": size, "offset": len(runs)})
        runs.extend(page["items"])
        if not page["items"] or len(runs) >= page["total"]:
            break
    return RunList(runs)
