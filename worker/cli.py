"""`reglab worker`: one Celery worker in the foreground.

Plugged into the `reglab` command (:mod:`reglab.cli.main`) when the worker
extra is installed; it needs no server package: the worker talks to the API only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from reglab.cli.errors import UsageError
from reglab.settings import get_client_settings
from worker.launch import worker_argv

# What training needs beyond the base install (`pip install 'reglab[worker]'`).
REQUIRES = ("celery", "keras")
for _package in REQUIRES:
    if importlib.util.find_spec(_package) is None:
        raise ModuleNotFoundError(f"No module named {_package!r}", name=_package)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    settings = get_client_settings()
    worker = subparsers.add_parser("worker", help="run one Celery worker (training) in the foreground", description=cmd_worker.__doc__)
    worker.add_argument(
        "--concurrency", type=int, default=None,
        help=f"runs trained side by side (default: REGLAB_WORKER_CONCURRENCY, now {settings.WORKER_CONCURRENCY})",
    )  # fmt: skip
    worker.add_argument("--queue", default=None, help=f"queue to consume (default: REGLAB_TRAIN_QUEUE, now {settings.TRAIN_QUEUE})")
    worker.add_argument("-n", "--hostname", default="reglab@%h", help="Celery node name (default reglab@%%h)")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args) -> int:
    """Run one Celery worker consuming the training queue, configured by REGLAB_* variables
    (REGLAB_URL and REGLAB_TOKEN for the API it reports to, REGLAB_REDIS_URL, REGLAB_TRAIN_QUEUE,
    REGLAB_WORKER_CONCURRENCY). It needs no database: it talks to the API only."""
    settings = get_client_settings()
    concurrency = args.concurrency or settings.WORKER_CONCURRENCY
    if concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {concurrency}")
    argv = worker_argv(args.queue or settings.TRAIN_QUEUE, concurrency, args.hostname, args.loglevel)
    os.environ["REGLAB_WORKER_CONCURRENCY"] = str(concurrency)
    sys.stdout.flush()
    # Replace this process, so signals (docker stop, Ctrl-C) reach Celery directly.
    os.execv(argv[0], argv)
