"""Pulling a zone's carbon feed from a public API into the file its topology names.

Two sources, each with a forecast of the hours ahead and the measured hours just past:

- ``electricitymaps``: Electricity Maps' API v3 (``/v3/carbon-intensity/forecast`` and
  ``/history`` for a zone code such as ``GB`` or ``AU-VIC``; a paid plan's token in the
  ``auth-token`` header). Hourly, life-cycle g CO₂eq/kWh, the unit of this project's series.
- ``gb-carbon-intensity``: NESO's Carbon Intensity API for Great Britain
  (``api.carbonintensity.org.uk``, CC BY 4.0, no token): ``/intensity/{from}/fw48h`` forecasts
  48 hours ahead, ``/intensity/{from}/pt24h`` gives the 24 hours before with their ``actual``
  figures. Half-hourly, direct emissions of generation; each hour is the mean of its halves.

The answer is checked before anything is written: a JSON body of at most 1 MiB, at most 744 hours,
every time ISO 8601 with its offset, every value finite and within 0–5,000 g CO₂/kWh, and at least
one hour. The file is then replaced whole (written beside it and renamed), so a plan never reads
half of it, and its modification time says when it was pulled. On any fault nothing is written: the
file the feed had keeps its age, and plans stop taking it once it is older than its ``max_age_h``
(:mod:`.carbon_feed`) — a pull that fails is never taken as a fresh forecast.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from suanwang.collectors.carbon_feed import MAX_FEED_ROWS
from suanwang.errors import InputError, PermanentError, TemporaryError
from suanwang.httpclient import HttpClient, RetryPolicy
from suanwang.topology.series import CARBON_COLUMN, MAX_KG_PER_KWH

__all__ = ["BASE_URLS", "SOURCES", "Kind", "pull", "write_feed"]

Kind = Literal["forecast", "measured"]
SOURCES = ("electricitymaps", "gb-carbon-intensity")
BASE_URLS = {
    "electricitymaps": "https://api.electricitymap.org",  # API v3 (docs: static.electricitymaps.com/api/docs)
    "gb-carbon-intensity": "https://api.carbonintensity.org.uk",  # carbon-intensity.github.io/api-definitions
}
MAX_BODY_BYTES = 1 << 20
MAX_G_PER_KWH = 1000.0 * MAX_KG_PER_KWH
RETRY = RetryPolicy(3, 1.0, cap_s=30.0)  # three tries, honouring Retry-After: these APIs rate-limit


def pull(
    source: str,
    area: str,
    kind: Kind,
    now: datetime,
    *,
    token: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 20.0,
    retry: RetryPolicy = RETRY,
) -> dict[datetime, float]:
    """The hours (start, UTC) → g CO₂/kWh that ``source`` gives for ``area`` (its zone code) as of
    ``now`` (timezone-aware): the forecast from ``now``'s hour on, or the measured hours before."""
    if source not in SOURCES:
        raise InputError(f"source {source!r} is not known; use one of {', '.join(SOURCES)}")
    if now.tzinfo is None:
        raise InputError("the pull's time has no offset; give it with one")
    headers = {"accept": "application/json"}
    if source == "electricitymaps":
        if not token:
            raise InputError(
                "Electricity Maps needs an API token; set it in the environment variable named by --token-env"
            )
        headers["auth-token"] = token
    http = HttpClient(
        base_url or BASE_URLS[source], timeout_s=timeout_s, retry=retry,
        headers=headers, max_bytes=MAX_BODY_BYTES,
    )  # fmt: skip
    try:
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if source == "electricitymaps":
            path = "/v3/carbon-intensity/" + ("forecast" if kind == "forecast" else "history")
            body = _get(http, path, {"zone": area}, source)
            hours = _electricitymaps(body, area, "forecast" if kind == "forecast" else "history")
        else:
            start = hour if kind == "forecast" else hour + timedelta(hours=1)
            span = "fw48h" if kind == "forecast" else "pt24h"
            body = _get(http, f"/intensity/{start:%Y-%m-%dT%H:%MZ}/{span}", None, source)
            hours = _gb(body, "forecast" if kind == "forecast" else "actual")
    finally:
        http.close()
    kept = {t: v for t, v in hours.items() if (t >= hour if kind == "forecast" else t <= hour)}
    if not kept:
        when = "from" if kind == "forecast" else "up to"
        raise PermanentError(
            f"{source} gave no {kind} hour {when} {hour:%Y-%m-%d %H:00} UTC for {area}; "
            "check the zone code and the source's coverage, then pull again"
        )
    return dict(sorted(kept.items()))


def write_feed(path: str | Path, hours: Mapping[datetime, float], column: str = CARBON_COLUMN) -> None:
    """Replace the feed file whole with ``hours`` (start, UTC → g CO₂/kWh) in the Electricity Maps
    CSV format :mod:`.carbon_feed` reads."""
    target = Path(path)
    lines = [f"Datetime (UTC),{column}"]
    lines += [f"{t.astimezone(UTC):%Y-%m-%d %H:%M:%S},{v:.2f}" for t, v in sorted(hours.items())]
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _get(http: HttpClient, path: str, params: dict[str, str] | None, source: str) -> Any:
    resp = http.request("GET", path, params=params)
    if resp.status >= 500 or resp.status == 429:
        raise TemporaryError(f"{source} answered {resp.status} to {path}; pull again later", retry_after_s=60)
    if resp.status in (401, 403):
        raise InputError(f"{source} refused the token ({resp.status}); check the token and the plan it belongs to")
    if resp.status >= 300:
        raise InputError(f"{source} answered {resp.status} to {path}; check the zone code (--source-zone)")
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError) as e:
        raise PermanentError(f"{source} answered {path} with a body that is not JSON ({e}); pull again later") from e


def _electricitymaps(body: Any, area: str, key: str) -> dict[datetime, float]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise PermanentError(f"electricitymaps: the answer has no {key!r} list; check the API version (v3)")
    if isinstance(body.get("zone"), str) and body["zone"] != area:
        raise PermanentError(f"electricitymaps answered for zone {body['zone'][:40]!r}, not {area!r}; pull again")
    out: dict[datetime, float] = {}
    for i, item in enumerate(_capped(items, f"electricitymaps {key}")):
        where = f"electricitymaps {key}[{i}]"
        if not isinstance(item, dict):
            raise PermanentError(f"{where} is not an object; check the API version (v3)")
        value = item.get("carbonIntensity")
        if value is None:  # an hour the source has no figure for: left to the plan's own forecast
            continue
        out[_time(item.get("datetime"), f"{where}.datetime").replace(minute=0)] = _grams(value, where)
    return out


def _gb(body: Any, field: str) -> dict[datetime, float]:
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise PermanentError("gb-carbon-intensity: the answer has no 'data' list; check the API's path")
    halves: dict[datetime, list[float]] = {}
    for i, item in enumerate(_capped(items, "gb-carbon-intensity data", 2)):
        where = f"gb-carbon-intensity data[{i}]"
        intensity = item.get("intensity") if isinstance(item, dict) else None
        if not isinstance(intensity, dict):
            raise PermanentError(f"{where} has no 'intensity' object; check the API's path")
        value = intensity.get(field)
        if value is None:  # not yet measured
            continue
        start = _time(item.get("from"), f"{where}.from")
        halves.setdefault(start.replace(minute=0), []).append(_grams(value, f"{where}.intensity.{field}"))
    return {t: sum(v) / len(v) for t, v in halves.items()}


def _capped(items: list, what: str, per_hour: int = 1) -> list:
    if len(items) > MAX_FEED_ROWS * per_hour:  # the feed file's own bound
        raise PermanentError(f"{what}: {len(items):,} entries, more than a month of hours; pull a shorter span")
    return items


def _time(text: Any, where: str) -> datetime:
    if not isinstance(text, str) or len(text) > 40:
        raise PermanentError(f"{where} is not a time; check the API version")
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PermanentError(f"{where}: {text!r} is not ISO 8601; check the API version") from None
    if t.tzinfo is None:
        raise PermanentError(f"{where}: {text!r} has no offset; check the API version")
    return t.astimezone(UTC)


def _grams(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PermanentError(f"{where}: {str(value)[:40]!r} is not a number; pull again later")
    if not 0.0 <= value <= MAX_G_PER_KWH:
        raise PermanentError(f"{where}: {value:g} g CO₂/kWh is outside 0–5,000; check the source's unit")
    return float(value)
