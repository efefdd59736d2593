"""`reglab migrate`: bring the database (REGLAB_DATABASE_URL, or SQLite under REGLAB_DATA_DIR) to the current schema."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    migrate = subparsers.add_parser("migrate", help="migrate the database to the current schema", description=cmd_migrate.__doc__)
    migrate.set_defaults(func=cmd_migrate)


def cmd_migrate(_args) -> int:
    """Apply every migration the database lacks, under the migration lock (safe beside a running API)."""
    from backend.migrate import upgrade_head
    from backend.settings import get_settings

    applied = upgrade_head()
    print(f"database {'migrated to' if applied else 'already at'} head: {get_settings().database_url}")
    return 0
