"""The CLI's errors and the one function that turns any of them into lines for the terminal."""

from __future__ import annotations

from typing import Any

from reglab.client import ApiError


class UsageError(Exception):
    """A mistake in what was typed or in a study file, explained in one message (exit status 2)."""


def describe(error: BaseException) -> str:
    """What went wrong, as a person can act on it: one line, or one line per field of a 422."""
    if not isinstance(error, ApiError):
        return str(error)
    if error.status == 0:
        return (
            f"cannot reach the RegLab API at {error.url} ({error.detail}). "
            "Start it with `reglab up` (or `make run`), or point REGLAB_URL / --url at a running deployment."
        )
    return f"{error.method} {error.path} -> {error.status}: {_detail_text(error.status, error.detail)}"


def _detail_text(status: int, detail: Any) -> str:
    if status == 422 and isinstance(detail, list):
        # One line per field, with its dotted path (the API's ValidationErrorBody).
        return "\n" + "\n".join(f"  {item.get('field', '?')}: {item.get('msg', item)}" for item in detail)
    return str(detail)
