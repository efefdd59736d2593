"""`reglab ls [--experiment ID] [--state S] [--filter EXPR]`: list runs, newest first."""

from __future__ import annotations

import argparse
import json

from reglab.cli.common import api_parser, client, fmt, get, table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    ls = api_parser(subparsers, "ls", "list runs, newest first")
    ls.add_argument("--experiment", type=int, default=None, help="only this experiment's runs")
    ls.add_argument("--state", default=None, help="only runs in this state (queued, running, completed, ...)")
    ls.add_argument("--filter", default=None, metavar="EXPR",
                    help="a run filter, e.g. \"metrics.best_val_accuracy > 0.9 and params.regularization.dropout >= 0.3\" (docs/filter.md)")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="print the API's JSON")
    ls.set_defaults(func=cmd_ls)


def cmd_ls(args) -> int:
    with client(args) as api:
        page = get(api, "/api/runs", experiment_id=args.experiment, state=args.state, filter=args.filter, limit=args.limit)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    items = page["items"]
    rows = [
        [
            run["id"],
            run["experiment_id"],
            run["state"],
            f"{run['epoch']}/{run['epochs']}",
            fmt(run["summary"].get("best_val_accuracy")),
            run["device"] or "",
            run["name"],
        ]
        for run in items
    ]
    print(table(rows, ["RUN", "EXP", "STATE", "EPOCH", "BEST_VAL_ACC", "DEVICE", "NAME"]))
    total = page["total"]
    if total > len(items):
        print(f"({len(items)} of {total}; --limit for more)")
    return 0
