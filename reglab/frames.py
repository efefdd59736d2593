"""Runs read back for notebooks: :class:`RunList` and its DataFrame, as MLflow's ``search_runs`` gives them,
every stored point of some runs as one long frame (:func:`read_series`), and a study's analysis
(:class:`Analysis`) with its groups as a frame.

pandas and pyarrow are an optional extra (``pip install 'reglab[frames]'``):
importing this module needs neither, only the methods that build frames do.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from reglab.spec import flatten

if TYPE_CHECKING:
    import pandas as pd

    from reglab.client import Client

PAGE = 500  # the API's largest page
RUN_IDS_PER_REQUEST = 100  # the most run ids GET /api/compare/export takes at once
FRAME_COLUMNS = ("id", "name", "state", "experiment_id", "created_at")
SERIES_COLUMNS = ("run_id", "metric", "axis", "x", "value", "t")
GROUP_COLUMNS = ("label", "n", "mean", "std", "diff", "ci_low", "ci_high", "hedges_g", "p_adjusted", "verdict")
EXTRA = "pip install 'reglab[frames]'"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(f"DataFrames of runs need pandas: {EXTRA}") from exc
    return pandas


def _pyarrow_ipc() -> Any:
    try:
        import pyarrow.ipc
    except ImportError as exc:
        raise ImportError(f"Series of runs are read from the Arrow export and need pyarrow: {EXTRA}") from exc
    return pyarrow.ipc


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


def read_series(client: Client, run_ids: Iterable[int] | int, names: list[str] | str | None = None) -> pd.DataFrame:
    """Every stored point of ``run_ids`` (all series, or those ``names``), raw, as one long frame.

    Columns ``run_id, metric, axis, x, value, t`` (``t``: seconds since the run
    started, NaN when not recorded), in the runs' order, then name order. Read
    from the Arrow export (GET /api/compare/export), which never downsamples;
    more than 100 runs are asked for 100 at a time.
    """
    pandas = _pandas()
    ipc = _pyarrow_ipc()
    # One id or any iterable of them (a list, a DataFrame's id column), numpy integers included.
    ids = list(dict.fromkeys(int(i) for i in ([run_ids] if isinstance(run_ids, numbers.Integral) else run_ids)))
    params: dict[str, Any] = {"format": "arrow"}
    if names is not None:
        params["names"] = names if isinstance(names, str) else ",".join(names)
    frames = []
    for start in range(0, len(ids), RUN_IDS_PER_REQUEST):
        chunk = ids[start : start + RUN_IDS_PER_REQUEST]
        with client.stream("GET", "/api/compare/export", params={**params, "run_ids": ",".join(map(str, chunk))}) as body:
            data = b"".join(body)
        table = ipc.open_stream(data).read_all()
        # Decoded to plain text: each record batch (run) has its own dictionary, and a name logged on
        # both axes is in it twice, which pandas' categoricals refuse.
        for column in ("metric", "axis"):
            index = table.schema.get_field_index(column)
            table = table.set_column(index, column, table.column(column).cast("string"))
        frames.append(table.to_pandas())
    if not frames:
        return pandas.DataFrame(columns=list(SERIES_COLUMNS))
    return pandas.concat(frames, ignore_index=True)[list(SERIES_COLUMNS)]


class Analysis(dict):
    """GET /api/experiments/{id}/analysis as it answers, with :meth:`groups_frame`."""

    def groups_frame(self, metric: str | None = None) -> pd.DataFrame:
        """One row per group, in the analysis' order: ``label, n, mean, std`` of ``metric`` (the
        analysis' own metric when omitted), and against the baseline ``diff, ci_low, ci_high``
        (95 % interval of the difference), ``hedges_g, p_adjusted, verdict`` (None for the baseline)."""
        pandas = _pandas()
        metric = metric or self.get("metric")
        rows = []
        for group in self.get("groups") or []:
            stats = (group.get("metrics") or {}).get(metric) or {}
            versus = (group.get("vs_baseline") or {}).get(metric) or {}
            ci = versus.get("ci95") or [None, None]
            rows.append({
                "label": group.get("label"), "n": group.get("n"), "mean": stats.get("mean"), "std": stats.get("std"),
                "diff": versus.get("diff"), "ci_low": ci[0], "ci_high": ci[1], "hedges_g": versus.get("hedges_g"),
                "p_adjusted": versus.get("p_adjusted"), "verdict": versus.get("verdict"),
            })  # fmt: skip
        return pandas.DataFrame(rows, columns=list(GROUP_COLUMNS))


def read_analysis(client: Client, experiment_id: int, metric: str | None = None, baseline: str | None = None) -> Analysis:
    """A study's analysis: its groups ranked by ``metric``, each against ``baseline`` (a group label)."""
    params = {key: value for key, value in (("metric", metric), ("baseline", baseline)) if value is not None}
    return Analysis(client.json("GET", f"/api/experiments/{int(experiment_id)}/analysis", params=params))
