"""What every REST command shares: the --url/--token options, the client they make, table output."""

from __future__ import annotations

import argparse
from typing import Any

from reglab.client import Client
from reglab.settings import get_client_settings

# Seconds per request: an export or a large comparison may take a while.
TIMEOUT_S = 30.0
# A person is waiting: one retry of a failed read, none of a write.
READ_RETRIES = 1


def add_api_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--url", default=None, help=f"API base URL (default: REGLAB_URL, now {get_client_settings().URL})")
    parser.add_argument("--token", default=None, help="API token (default: REGLAB_TOKEN)")
    return parser


def api_parser(subparsers: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand that talks to the API, with --url and --token."""
    return add_api_options(subparsers.add_parser(name, help=help, description=help))


def client(args: argparse.Namespace) -> Client:
    settings = get_client_settings()
    token = getattr(args, "token", None) or settings.TOKEN
    return Client(getattr(args, "url", None) or settings.URL, token=token, timeout=TIMEOUT_S, retries=READ_RETRIES)


def get(api: Client, path: str, **params: Any) -> Any:
    return api.json("GET", path, params={k: v for k, v in params.items() if v is not None})


def post(api: Client, path: str, json: Any = None) -> Any:
    return api.json("POST", path, json=json, retries=0)


def all_runs(api: Client, page_size: int = 200, **filters: Any) -> list[dict[str, Any]]:
    """Every run matching ``filters``, following the API's paging."""
    items: list[dict[str, Any]] = []
    while True:
        page = get(api, "/api/runs", limit=page_size, offset=len(items), **filters)
        batch = page["items"]
        items.extend(batch)
        if not batch or len(items) >= page["total"]:
            return items


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
