"""The `reglab` command: drive RegLab over REST, and run its server and workers when installed.

    reglab submit study.yaml [--wait]        create an experiment; --wait draws a progress bar per run
    reglab ls [--experiment ID] [--state S] [--filter EXPR]  list runs, newest first
    reglab show RUN                          one run: state, device, summary, spec
    reglab compare RUN... [--csv|--arrow F]  summaries and differing parameters; --csv, --arrow write every series
    reglab cancel RUN                        stop a queued or running run
    reglab report ID [-o F] [--pdf]          a study's report: one HTML file that opens offline, or a PDF
    reglab import tensorboard DIR            TensorBoard runs as external runs (repeatable)
    reglab up [--host H] [--port P]          the whole product on this machine (the server extra; `make run`)
    reglab worker [--concurrency N]          one Celery worker, e.g. on another machine (the worker extra)
    reglab token create --name N --scope S   a token for REGLAB_AUTH=write|all (also: token ls, token revoke)
    reglab migrate                           migrate the database to the current schema

The REST commands talk to the API at REGLAB_URL (or --url), so they work against
a remote deployment too, and send REGLAB_TOKEN (or --token) as a bearer token.
`token` and `migrate` talk to the database, as admin tools.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from reglab.cli import cancel, compare, imports, ls, report, show, submit
from reglab.cli.errors import UsageError, describe
from reglab.client import ApiError

# Each module adds its subcommands with add_parser(subparsers).
REST_COMMANDS = (submit, ls, show, compare, cancel, report, imports)
# Commands of the other packages, looked up by name so this package never imports
# them: each module raises ImportError when its extra is not installed.
PLUGINS = {
    "worker.cli": ("worker", {"worker": "run one Celery worker (training) in the foreground"}),
    "backend.cli.commands": ("server", {
        "up": "run the API, a worker and Redis on this machine",
        "token": "create, list and revoke API tokens (talks to the database directly)",
        "migrate": "migrate the database to the current schema",
    }),
}  # fmt: skip
OWN_PACKAGES = ("reglab.", "backend.", "worker.")


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    try:
        parser = build_parser()
    except ValidationError as exc:  # settings are read here first; say which variable is wrong
        problems = "; ".join(f"REGLAB_{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: invalid setting: {problems}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except ApiError as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reglab", description="RegLab: compare neural-network regularization runs.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in REST_COMMANDS:
        module.add_parser(subparsers)
    for name, (extra, commands) in PLUGINS.items():
        try:
            plugin = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(OWN_PACKAGES):
                raise  # a module of ours that is missing is a bug, not an extra to install
            for command, help in commands.items():
                _missing_extra(subparsers, command, help, extra, exc)
        else:
            plugin.add_parser(subparsers)
    return parser


def _missing_extra(subparsers: argparse._SubParsersAction, command: str, help: str, extra: str, exc: ModuleNotFoundError) -> None:
    """A stand-in that says which extra brings ``command`` (whatever arguments it was given)."""
    stub = subparsers.add_parser(command, help=f"{help} (needs reglab[{extra}])", add_help=False)
    stub.add_argument("rest", nargs=argparse.REMAINDER)
    missing = exc.name or str(exc)

    def explain(_args) -> int:
        raise UsageError(f"`reglab {command}` needs the {extra} extra ({missing} is not installed): pip install 'reglab[{extra}]'")

    stub.set_defaults(func=explain)


if __name__ == "__main__":
    sys.exit(main())
