"""UTC timestamps: every process writes UTC, SQLite hands them back naive."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive timestamp read from SQLite."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with an explicit UTC offset, or None."""
    value = as_utc(value)
    return None if value is None else value.isoformat()
