"""The `reglab` command: run the stack (`up`, `worker`) and drive it over REST.

    reglab up [--host H] [--port P]          the whole product on this machine (what `make run` calls)
    reglab worker [--concurrency N]          one Celery worker, e.g. on another machine
    reglab submit study.yaml [--wait]        create an experiment; --wait draws a progress bar per run
    reglab ls [--experiment ID] [--state S]  list runs, newest first
    reglab show RUN                          one run: state, device, summary, spec
    reglab compare RUN... [--csv|--arrow F]  summaries and differing parameters; --csv, --arrow write every series
    reglab cancel RUN                        stop a queued or running run
    reglab report ID [-o F] [--pdf]          a study's report: one HTML file that opens offline, or a PDF
    reglab token create --name N --scope S   a token for REGLAB_AUTH=write|all (also: token ls, token revoke)
    reglab import tensorboard DIR            TensorBoard runs as external runs (repeatable)

Every command but `up`, `worker` and `token` talks to the API at REGLAB_URL (or
--url), so they work against a remote deployment too; it sends REGLAB_TOKEN (or
--token) as a bearer token. `token` talks to the database, as an admin tool.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from backend.cli import report_cli
from backend.cli.client import ApiClient, ApiError
from backend.cli.progress import ProgressBoard, all_final
from backend.cli.tokens import add_token_commands
from backend.runs.states import COMPLETED

STUDY_KEYS = {"name", "description", "tags", "base", "grid"}


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
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class UsageError(Exception):
    """A mistake in what was typed or in a study file, explained in one message."""


def build_parser() -> argparse.ArgumentParser:
    from backend.settings import get_settings

    parser = argparse.ArgumentParser(prog="reglab", description="RegLab: compare neural-network regularization runs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def api_command(name: str, help: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.add_argument(
            "--url", default=None, help=f"API base URL (default: REGLAB_URL, now {get_settings().URL})"
        )
        command.add_argument("--token", default=None, help="API token (default: REGLAB_TOKEN)")
        return command

    up = sub.add_parser("up", help="run the API, a worker and Redis on this machine", description=cmd_up.__doc__)
    up.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="API address (default: HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="API port (default: PORT or 8000)")
    up.add_argument(
        "--grace", type=float, default=5.0,
        help="seconds a running run gets to finish on stop before it is interrupted and re-queued (default 5)",
    )  # fmt: skip
    up.set_defaults(func=cmd_up)

    worker = sub.add_parser("worker", help="run one Celery worker (training) in the foreground", description=cmd_worker.__doc__)
    worker.add_argument(
        "--concurrency", type=int, default=None,
        help="runs trained side by side (default: REGLAB_WORKER_CONCURRENCY, now "
        f"{get_settings().WORKER_CONCURRENCY})",
    )  # fmt: skip
    worker.add_argument("--queue", default=None, help=f"queue to consume (default: REGLAB_TRAIN_QUEUE, now {get_settings().TRAIN_QUEUE})")
    worker.add_argument("-n", "--hostname", default="reglab@%h", help="Celery node name (default reglab@%%h)")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)

    submit = api_command("submit", "create an experiment from a study YAML file")
    submit.add_argument("study", type=Path, help="YAML with name, description?, tags?, base (partial spec), grid?")
    submit.add_argument("--wait", action="store_true", help="draw a progress bar per run until every run ends")
    submit.add_argument("--poll", type=float, default=1.0, help="seconds between progress updates (default 1)")
    submit.set_defaults(func=cmd_submit)

    ls = api_command("ls", "list runs, newest first")
    ls.add_argument("--experiment", type=int, default=None, help="only this experiment's runs")
    ls.add_argument("--state", default=None, help="only runs in this state (queued, running, completed, ...)")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="print the API's JSON")
    ls.set_defaults(func=cmd_ls)

    show = api_command("show", "show one run")
    show.add_argument("run", type=int)
    show.add_argument("--json", action="store_true", help="print the API's JSON")
    show.set_defaults(func=cmd_show)

    compare = api_command("compare", "compare runs: summaries, differing parameters, series as CSV or Arrow")
    compare.add_argument("runs", type=int, nargs="+", metavar="RUN")
    compare.add_argument("--csv", type=Path, default=None, help="write every series point to this CSV file")
    compare.add_argument("--arrow", type=Path, default=None, help="write every series point to this Arrow IPC stream file")
    compare.add_argument("--names", default=None, help="comma-separated metric names (default: all)")
    compare.set_defaults(func=cmd_compare)

    cancel = api_command("cancel", "cancel a queued or running run")
    cancel.add_argument("run", type=int)
    cancel.set_defaults(func=cmd_cancel)

    report_cli.add_parser(sub)
    add_token_commands(sub)
    importer = sub.add_parser("import", help="import runs trained elsewhere", description="import runs trained elsewhere")
    sources = importer.add_subparsers(dest="source", required=True, metavar="SOURCE")
    tensorboard = sources.add_parser(
        "tensorboard", help="TensorBoard event files: one external run per run directory (repeatable)",
        description=cmd_import_tensorboard.__doc__,
    )  # fmt: skip
    tensorboard.add_argument("directory", type=Path, help="a log directory (e.g. keras.callbacks.TensorBoard's)")
    tensorboard.add_argument("--experiment", default=None, help="experiment name (default: 'TensorBoard: DIR')")
    tensorboard.add_argument("--url", default=None, help=f"API base URL (default: REGLAB_URL, now {get_settings().URL})")
    tensorboard.set_defaults(func=cmd_import_tensorboard)
    return parser


def _client(args) -> ApiClient:
    from backend.settings import get_settings

    return ApiClient(args.url or get_settings().URL, token=args.token or get_settings().TOKEN)


# ---- stack -------------------------------------------------------------------


def cmd_up(args) -> int:
    """Migrate the database under REGLAB_DATA_DIR, start an embedded Redis (unless
    REGLAB_REDIS_URL is set), one Celery worker and the API, print the dashboard
    URL once it answers, and stop them all on Ctrl-C or SIGTERM."""
    from backend.cli.stack import Stack
    from backend.settings import get_settings

    return Stack(
        get_settings(), host=args.host, port=args.port, redis_url=os.environ.get("REGLAB_REDIS_URL") or None, grace=args.grace
    ).run()


def cmd_worker(args) -> int:
    """Run one Celery worker consuming the training queue, configured by REGLAB_* variables
    (REGLAB_URL and REGLAB_TOKEN for the API it reports to, REGLAB_REDIS_URL, REGLAB_TRAIN_QUEUE,
    REGLAB_WORKER_CONCURRENCY). It needs no database: it talks to the API only."""
    from backend.cli.processes import worker_argv
    from backend.settings import get_settings

    settings = get_settings()
    concurrency = args.concurrency or settings.WORKER_CONCURRENCY
    if concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {concurrency}")
    argv = worker_argv(args.queue or settings.TRAIN_QUEUE, concurrency, args.hostname, args.loglevel)
    os.environ["REGLAB_WORKER_CONCURRENCY"] = str(concurrency)
    sys.stdout.flush()
    # Replace this process, so signals (docker stop, Ctrl-C) reach Celery directly.
    os.execv(argv[0], argv)


# ---- REST commands -------------------------------------------------------------


def _study_loader():
    """PyYAML's safe loader, reading ``1e-3`` as a number as YAML 1.2 does (1.1 needs ``1.0e-3``).

    The API takes spec values in their JSON types only, so a rate written the
    usual way must not reach it as the string "1e-3".
    """
    import re

    import yaml

    class StudyLoader(yaml.SafeLoader):
        pass

    StudyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return StudyLoader


def load_study(path: Path) -> dict[str, Any]:
    """Read a study file: the body of POST /api/experiments, in YAML."""
    import yaml

    try:
        data = yaml.load(path.read_text(), Loader=_study_loader())  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must be a mapping with keys {sorted(STUDY_KEYS)}, got {type(data).__name__}")
    unknown = set(data) - STUDY_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(STUDY_KEYS)}")
    if not data.get("name"):
        data["name"] = path.stem
    data.setdefault("base", {})
    return data


def cmd_submit(args) -> int:
    study = load_study(args.study)
    with _client(args) as client:
        created = client.create_experiment(study)
        runs = created["runs"]
        experiment_id = created["id"]
        print(f"experiment {experiment_id} {created['name']!r}: {len(runs)} run(s) queued")
        for warning in created["warnings"]:
            print(f"warning: {warning}")
        if not args.wait:
            for run in runs:
                print(f"  #{run['id']}  {run['name']}")
            return 0
        return wait_for_runs(client, experiment_id, [run["id"] for run in runs], args.poll)


def wait_for_runs(client: ApiClient, experiment_id: int, run_ids: list[int], poll: float, out=None) -> int:
    """Redraw the runs' progress until each is final; 0 if all completed."""
    out = out or sys.stdout
    board = ProgressBoard(out)
    wanted = set(run_ids)
    while True:
        # One paged listing per refresh, not one request per run.
        runs = sorted(
            (run for run in client.all_runs(experiment_id=experiment_id) if run["id"] in wanted),
            key=lambda run: run["id"],
        )
        board.update(runs)
        if all_final(runs) and len(runs) == len(wanted):
            break
        time.sleep(poll)
    counts: dict[str, int] = {}
    for run in runs:
        counts[run["state"]] = counts.get(run["state"], 0) + 1
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())), file=out, flush=True)
    return 0 if counts.get(COMPLETED, 0) == len(runs) else 1


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def cmd_ls(args) -> int:
    with _client(args) as client:
        page = client.list_runs(experiment_id=args.experiment, state=args.state, limit=args.limit)
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
            _fmt(run["summary"].get("best_val_accuracy")),
            run["device"] or "",
            run["name"],
        ]
        for run in items
    ]
    print(_table(rows, ["RUN", "EXP", "STATE", "EPOCH", "BEST_VAL_ACC", "DEVICE", "NAME"]))
    total = page["total"]
    if total > len(items):
        print(f"({len(items)} of {total}; --limit for more)")
    return 0


def cmd_show(args) -> int:
    import yaml

    with _client(args) as client:
        run = client.get_run(args.run)
    if args.json:
        print(json.dumps(run, indent=2))
        return 0
    fields = [
        "id", "name", "experiment_id", "state", "epoch", "epochs", "device", "backend", "worker_host",
        "created_at", "started_at", "finished_at", "error",
    ]  # fmt: skip
    width = max(len(f) for f in fields)
    for key in fields:
        if run.get(key) not in (None, ""):
            print(f"{key:<{width}}  {run[key]}")
    if run["summary"]:
        print("summary:")
        key_width = max(len(key) for key in run["summary"])
        for key, value in sorted(run["summary"].items()):
            print(f"  {key:<{key_width}}  {_fmt(value)}")
    if run["spec"]:
        print("spec:")
        print("  " + yaml.safe_dump(run["spec"], sort_keys=False).rstrip().replace("\n", "\n  "))
    return 0


def cmd_compare(args) -> int:
    names = [n.strip() for n in args.names.split(",") if n.strip()] if args.names else None
    with _client(args) as client:
        data = client.compare(args.runs, names)
    runs = data["runs"]
    diff = data["params_diff"]
    summary_keys = ["best_val_accuracy", "final_val_accuracy", "test_accuracy", "best_epoch"]
    header = ["RUN", "STATE", *diff.keys(), *summary_keys]
    rows = []
    for run in runs:
        summary = run["summary"]
        rows.append(
            [run["id"], run["state"], *(_fmt(values[str(run["id"])]) for values in diff.values())]
            + [_fmt(summary.get(k)) for k in summary_keys]
        )
    print(_table(rows, header))
    if args.csv:
        # The server writes the CSV: every point (the table above reads the downsampled comparison).
        with _client(args) as client, open(args.csv, "wb") as handle:
            count = client.compare_csv(args.runs, names, handle)
        print(f"wrote {count} point(s) to {args.csv}")
    if args.arrow:
        with _client(args) as client, open(args.arrow, "wb") as handle:
            client.compare_arrow(args.runs, names, handle)
        print(f"wrote {arrow_rows(args.arrow)} point(s) to {args.arrow}")
    return 0


def arrow_rows(path: Path) -> int:
    """Points in an Arrow IPC stream file, read a record batch at a time."""
    import pyarrow as pa  # only this command needs it

    with pa.ipc.open_stream(path) as reader:
        return sum(batch.num_rows for batch in reader)


def cmd_import_tensorboard(args) -> int:
    """Import every run directory under DIRECTORY as an external run with its scalars (epoch and step axes).

    Read with TensorBoard's own reader; importing the same directory again changes nothing."""
    from backend.settings import get_settings
    from reglab.client import ApiError as ClientError, Client
    from reglab.tensorboard import import_tensorboard

    if not args.directory.is_dir():
        raise UsageError(f"{args.directory} is not a directory")
    try:
        with Client(args.url or get_settings().URL) as client:
            results = import_tensorboard(args.directory, args.experiment, client)
    except ClientError as exc:
        raise ApiError(str(exc)) from exc
    for result in results:
        what = f"imported {result['points']} point(s)" if result["points"] else "already imported, unchanged"
        print(f"run {result['run_id']} {result['name']}: {what}")
    if not results:
        print(f"no TensorBoard event files under {args.directory}")
    return 0


def cmd_cancel(args) -> int:
    with _client(args) as client:
        run = client.cancel_run(args.run)
    state = "cancelling" if run["cancel_requested"] else run["state"]
    print(f"run {args.run}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
