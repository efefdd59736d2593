"""CPU the access check adds to one request, per REGLAB_AUTH mode (SQLite, in process).

Drives ``AccessMiddleware`` of a real ``create_app()`` on a synthetic
``POST /api/runs/{id}/metrics`` with a worker token (the per-epoch ingest of a
trainer) and prints the CPU time per request of: mode ``off`` (the Origin
check only), ``all`` with the token in the process's cache (the steady state),
and ``all`` with the cache off (one indexed query per request; what every
request would pay without the cache, and what one pays every
REGLAB_AUTH_CACHE_S seconds).

Run: ``.venv/bin/python bench/auth_overhead.py [--requests 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def scope_for(app, token: str) -> dict:
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())]
    return {"type": "http", "method": "POST", "path": "/api/runs/1/metrics", "headers": headers,
            "query_string": b"", "client": ("127.0.0.1", 5000), "scheme": "http", "app": app}  # fmt: skip


def measure(middleware, app, token: str, requests: int) -> float:
    """Microseconds of CPU per check."""

    async def run() -> float:
        assert await middleware.check(scope_for(app, token)) is None  # warm: route table, cache
        start = time.process_time()
        for _ in range(requests):
            await middleware.check(scope_for(app, token))
        return (time.process_time() - start) / requests * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="reglab-auth-bench-"))
    os.environ["REGLAB_DATA_DIR"] = str(data)
    os.environ.pop("REGLAB_DATABASE_URL", None)

    from backend.auth.access import AccessMiddleware
    from backend.auth.service import create_token
    from backend.db import get_sessionmaker
    from backend.main import create_app
    from backend.migrate import upgrade_head

    upgrade_head()
    with get_sessionmaker()() as session:
        token = create_token(session, "bench worker", "worker")[1]
    app = create_app()
    rows = [
        ("off (Origin check only)", AccessMiddleware(app, "off")),
        ("all, token cached", AccessMiddleware(app, "all", cache_s=3600)),
        ("all, no cache (one query)", AccessMiddleware(app, "all", cache_s=0)),
    ]
    print(f"access check on POST /api/runs/{{id}}/metrics, SQLite, {args.requests} requests each")
    for label, middleware in rows:
        print(f"  {label:<28} {measure(middleware, app, token, args.requests):8.1f} µs CPU per request")


if __name__ == "__main__":
    main()
