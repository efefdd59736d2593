"""`reglab show RUN`: one run's state, device, summary and spec."""

from __future__ import annotations

import argparse
import json

from reglab.cli.common import api_parser, client, fmt, get

FIELDS = (
    "id", "name", "experiment_id", "state", "epoch", "epochs", "device", "backend", "worker_host",
    "created_at", "started_at", "finished_at", "error",
)  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    show = api_parser(subparsers, "show", "show one run")
    show.add_argument("run", type=int)
    show.add_argument("--json", action="store_true", help="print the API's JSON")
    show.set_defaults(func=cmd_show)


def cmd_show(args) -> int:
    import yaml

    with client(args) as api:
        run = get(api, f"/api/runs/{args.run}")
    if args.json:
        print(json.dumps(run, indent=2))
        return 0
    width = max(len(f) for f in FIELDS)
    for key in FIELDS:
        if run.get(key) not in (None, ""):
            print(f"{key:<{width}}  {run[key]}")
    if run["summary"]:
        print("summary:")
        key_width = max(len(key) for key in run["summary"])
        for key, value in sorted(run["summary"].items()):
            print(f"  {key:<{key_width}}  {fmt(value)}")
    if run["spec"]:
        print("spec:")
        print("  " + yaml.safe_dump(run["spec"], sort_keys=False).rstrip().replace("\n", "\n  "))
    return 0
