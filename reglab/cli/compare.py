"""`reglab compare RUN... [--csv F] [--arrow F]`: summaries and differing parameters; every series point to a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import BinaryIO

from reglab.cli.common import api_parser, client, fmt, get, table
from reglab.client import Client

SUMMARY_KEYS = ("best_val_accuracy", "final_val_accuracy", "test_accuracy", "best_epoch")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    compare = api_parser(subparsers, "compare", "compare runs: summaries, differing parameters, series as CSV or Arrow")
    compare.add_argument("runs", type=int, nargs="+", metavar="RUN")
    compare.add_argument("--csv", type=Path, default=None, help="write every series point to this CSV file")
    compare.add_argument("--arrow", type=Path, default=None, help="write every series point to this Arrow IPC stream file")
    compare.add_argument("--names", default=None, help="comma-separated metric names (default: all)")
    compare.set_defaults(func=cmd_compare)


def _params(run_ids: list[int], names: list[str] | None) -> dict[str, str]:
    params = {"run_ids": ",".join(str(i) for i in run_ids)}
    if names:
        params["names"] = ",".join(names)
    return params


def cmd_compare(args) -> int:
    names = [n.strip() for n in args.names.split(",") if n.strip()] if args.names else None
    with client(args) as api:
        data = get(api, "/api/compare", **_params(args.runs, names))
        runs = data["runs"]
        diff = data["params_diff"]
        header = ["RUN", "STATE", *diff.keys(), *SUMMARY_KEYS]
        rows = []
        for run in runs:
            summary = run["summary"]
            rows.append(
                [run["id"], run["state"], *(fmt(values[str(run["id"])]) for values in diff.values())]
                + [fmt(summary.get(k)) for k in SUMMARY_KEYS]
            )
        print(table(rows, header))
        if args.csv:
            # The server writes the CSV: every point (the table above reads the downsampled comparison).
            with open(args.csv, "wb") as handle:
                lines = download(api, "/api/compare/csv", _params(args.runs, names), handle)
            print(f"wrote {max(lines - 1, 0)} point(s) to {args.csv}")
        if args.arrow:
            with open(args.arrow, "wb") as handle:
                download(api, "/api/compare/export", {**_params(args.runs, names), "format": "arrow"}, handle)
            count = arrow_rows(args.arrow)
            print(f"wrote {count} point(s) to {args.arrow}" if count is not None else f"wrote {args.arrow}")
    return 0


def download(api: Client, path: str, params: dict[str, str], handle: BinaryIO) -> int:
    """Copy a streamed answer into ``handle`` chunk by chunk; returns its newline bytes."""
    lines = 0
    with api.stream("GET", path, params=params) as chunks:
        for chunk in chunks:
            handle.write(chunk)
            lines += chunk.count(b"\n")
    return lines


def arrow_rows(path: Path) -> int | None:
    """Points in an Arrow IPC stream file, read a record batch at a time (None without pyarrow to read it)."""
    try:
        import pyarrow as pa  # only this option needs it, and only to count
    except ImportError:
        return None
    with pa.ipc.open_stream(path) as reader:
        return sum(batch.num_rows for batch in reader)
