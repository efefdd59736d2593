"""`reglab import tensorboard DIR`: TensorBoard runs as external runs, over REST (repeatable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reglab.cli.common import add_api_options, client
from reglab.cli.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    importer = subparsers.add_parser("import", help="import runs trained elsewhere", description="import runs trained elsewhere")
    sources = importer.add_subparsers(dest="source", required=True, metavar="SOURCE")
    tensorboard = sources.add_parser(
        "tensorboard", help="TensorBoard event files: one external run per run directory (repeatable)",
        description=cmd_import_tensorboard.__doc__,
    )  # fmt: skip
    tensorboard.add_argument("directory", type=Path, help="a log directory (e.g. keras.callbacks.TensorBoard's)")
    tensorboard.add_argument("--experiment", default=None, help="experiment name (default: 'TensorBoard: DIR')")
    add_api_options(tensorboard)
    tensorboard.set_defaults(func=cmd_import_tensorboard)


def cmd_import_tensorboard(args) -> int:
    """Import every run directory under DIRECTORY as an external run with its scalars (epoch and step axes).

    Read with TensorBoard's own reader; importing the same directory again changes nothing."""
    from reglab.tensorboard import import_tensorboard

    if not args.directory.is_dir():
        raise UsageError(f"{args.directory} is not a directory")
    with client(args) as api:
        results = import_tensorboard(args.directory, args.experiment, api)
    for result in results:
        what = f"imported {result['points']} point(s)" if result["points"] else "already imported, unchanged"
        if result.get("snapshots"):
            what += f" and {result['snapshots']} layer snapshot(s)"
        print(f"run {result['run_id']} {result['name']}: {what}")
    if not results:
        print(f"no TensorBoard event files under {args.directory}")
    return 0
