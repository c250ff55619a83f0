"""Times in job and state files: Jiangsu local time (UTC+8), the clock its tariffs are set in.

Aware datetimes are converted to UTC+8; naive ones are taken as UTC+8 already. Internally times
are naive UTC+8 wall-clock values; everything shown to users carries its offset (:func:`iso`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def to_local(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(CST)
    return value.replace(tzinfo=None)


def iso(value: datetime | None, timespec: str = "auto") -> str | None:
    """A time as ISO 8601 with its offset (+08:00 for local times; aware ones are converted)."""
    return None if value is None else to_local(value).replace(tzinfo=CST).isoformat(timespec=timespec)


def iso_text(value: str) -> str:
    """A stored time text with its offset; text that is not a time as it is."""
    t = parse_time(value)
    return value if t is None else str(iso(t))


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
