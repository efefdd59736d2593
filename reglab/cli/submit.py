"""`reglab submit study.yaml [--wait]`: create an experiment; --wait draws a progress bar per run."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from reglab.cli.common import all_runs, api_parser, client, post
from reglab.cli.errors import UsageError
from reglab.cli.progress import ProgressBoard, all_final
from reglab.client import Client
from reglab.states import COMPLETED

STUDY_KEYS = {"name", "description", "tags", "base", "grid"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    submit = api_parser(subparsers, "submit", "create an experiment from a study YAML file")
    submit.add_argument("study", type=Path, help="YAML with name, description?, tags?, base (partial spec), grid?")
    submit.add_argument("--wait", action="store_true", help="draw a progress bar per run until every run ends")
    submit.add_argument("--poll", type=float, default=1.0, help="seconds between progress updates (default 1)")
    submit.set_defaults(func=cmd_submit)


def _study_loader():
    """PyYAML's safe loader, reading ``1e-3`` as a number as YAML 1.2 does (1.1 needs ``1.0e-3``).

    The API takes spec values in their JSON types only, so a rate written the
    usual way must not reach it as the string "1e-3".
    """
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
    with client(args) as api:
        created = post(api, "/api/experiments", json=study)
        runs = created["runs"]
        experiment_id = created["id"]
        print(f"experiment {experiment_id} {created['name']!r}: {len(runs)} run(s) queued")
        for warning in created["warnings"]:
            print(f"warning: {warning}")
        if not args.wait:
            for run in runs:
                print(f"  #{run['id']}  {run['name']}")
            return 0
        return wait_for_runs(api, experiment_id, [run["id"] for run in runs], args.poll)


def wait_for_runs(api: Client, experiment_id: int, run_ids: list[int], poll: float, out=None) -> int:
    """Redraw the runs' progress until each is final; 0 if all completed."""
    out = out or sys.stdout
    board = ProgressBoard(out)
    wanted = set(run_ids)
    while True:
        # One paged listing per refresh, not one request per run.
        runs = sorted(
            (run for run in all_runs(api, experiment_id=experiment_id) if run["id"] in wanted),
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
