"""A small client for Prometheus's HTTP API (instant and range queries), with timeouts and retries.

Transport faults (refused, timed out, 5xx, 429) are retried with exponential backoff and end in a
:class:`TemporaryError`; a query Prometheus rejects (4xx) is an :class:`InputError` naming the
PromQL. Values are floats; ``NaN`` and ``±Inf`` come through as such for the caller to judge.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

from suanwang.errors import InputError, TemporaryError


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float
    ts: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass
class Result:
    samples: list = field(default_factory=list)  # Sample (vector) or Series (matrix)
    warnings: list[str] = field(default_factory=list)


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


class PromClient:
    """One Prometheus (or a compatible central store such as Thanos or VictoriaMetrics)."""

    def __init__(self, url: str, timeout_s: float = 5.0, retries: int = 2, backoff_s: float = 0.2) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s

    def query(self, promql: str, at: datetime | None = None) -> Result:
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        data, warnings = self._get("/api/v1/query", params, promql)
        if data.get("resultType") != "vector":
            raise InputError(
                f"{promql!r} returned a {data.get('resultType')}, not an instant vector; "
                "write a query that yields one sample per series"
            )
        samples = [Sample(r.get("metric", {}), _float(r["value"][1]), float(r["value"][0])) for r in data["result"]]
        return Result(samples, warnings)

    def query_range(self, promql: str, start: datetime, end: datetime, step_s: float) -> Result:
        params = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s:g}",
        }
        data, warnings = self._get("/api/v1/query_range", params, promql)
        series = [
            Series(r.get("metric", {}), tuple((float(t), _float(v)) for t, v in r.get("values", [])))
            for r in data.get("result", [])
        ]
        return Result(series, warnings)

    def _get(self, path: str, params: dict[str, str], promql: str) -> tuple[dict, list[str]]:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:  # noqa: S310 (http only)
                    body = json.loads(resp.read().decode("utf-8"))
                if body.get("status") != "success":
                    raise TemporaryError(f"{self.url}: {body.get('errorType')}: {body.get('error')}; retry later")
                return body.get("data", {}), list(body.get("warnings", []))
            except urllib.error.HTTPError as e:
                if e.code in (400, 422):
                    detail = _error_text(e)
                    raise InputError(
                        f"Prometheus at {self.url} rejected {promql!r}: {detail}; fix the PromQL "
                        "in the collector config"
                    ) from e
                last = e
                if e.code < 500 and e.code != 429:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last = e
        raise TemporaryError(
            f"Prometheus at {self.url} did not answer {promql!r} after {self.retries + 1} "
            f"tries ({last}); check it is up, the last known values are kept meanwhile",
            retry_after_s=max(1.0, self.backoff_s * 2**self.retries),
        ) from last


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(e.read().decode("utf-8"))
        return f"{body.get('errorType')}: {body.get('error')}"
    except Exception:  # noqa: BLE001 — the status line is the fallback
        return f"HTTP {e.code}"
