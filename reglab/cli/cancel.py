"""`reglab cancel RUN`: stop a queued or running run."""

from __future__ import annotations

import argparse

from reglab.cli.common import api_parser, client, post


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    cancel = api_parser(subparsers, "cancel", "cancel a queued or running run")
    cancel.add_argument("run", type=int)
    cancel.set_defaults(func=cmd_cancel)


def cmd_cancel(args) -> int:
    with client(args) as api:
        run = post(api, f"/api/runs/{args.run}/cancel")
    state = "cancelling" if run["cancel_requested"] else run["state"]
    print(f"run {args.run}: {state}")
    return 0
