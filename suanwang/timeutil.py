"""Times in job and state files: Jiangsu local time (UTC+8), the clock its tariffs are set in.

Aware datetimes are converted to UTC+8; naive ones are taken as UTC+8 already. Internally times
are naive UTC+8 wall-clock values.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def to_local(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(CST)
    return value.replace(tzinfo=None)


def now_local() -> datetime:
    return datetime.now(CST).replace(tzinfo=None, microsecond=0)


def parse_time(value: object) -> datetime | None:
    """A YAML timestamp or ISO 8601 text as local time; ``None`` if it is neither."""
    if isinstance(value, datetime):
        return to_local(value)
    if isinstance(value, str):
        try:
            return to_local(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None
