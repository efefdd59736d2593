"""`reglab up`: the API, a worker and Redis on this machine (what `make run` calls)."""

from __future__ import annotations

import argparse
import os


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="run the API, a worker and Redis on this machine", description=cmd_up.__doc__)
    up.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="API address (default: HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="API port (default: PORT or 8000)")
    up.add_argument(
        "--grace", type=float, default=5.0,
        help="seconds a running run gets to finish on stop before it is interrupted and re-queued (default 5)",
    )  # fmt: skip
    up.set_defaults(func=cmd_up)


def cmd_up(args) -> int:
    """Migrate the database under REGLAB_DATA_DIR, start an embedded Redis (unless
    REGLAB_REDIS_URL is set), one Celery worker and the API, print the dashboard
    URL once it answers, and stop them all on Ctrl-C or SIGTERM."""
    from backend.cli.stack import Stack
    from backend.settings import get_settings

    return Stack(
        get_settings(), host=args.host, port=args.port, redis_url=os.environ.get("REGLAB_REDIS_URL") or None, grace=args.grace
    ).run()
