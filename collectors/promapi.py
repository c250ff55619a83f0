"""A small client for Prometheus's HTTP API (instant and range queries), with timeouts and retries.

Transport faults (refused, timed out, 5xx, 429) are retried by the product's one HTTP client
(:mod:`suanwang.httpclient`) and end in a :class:`TemporaryError`, as does an answer that is not
a Prometheus answer; a query Prometheus rejects (4xx) is an :class:`InputError` naming the
PromQL. Values are floats; ``NaN`` and ``±Inf`` come through as such for the caller to judge.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from suanwang.errors import InputError, TemporaryError
from suanwang.httpclient import HttpClient, Response, RetryPolicy


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
        self._http = HttpClient(self.url, timeout_s=timeout_s, retry=RetryPolicy(retries + 1, backoff_s, cap_s=10.0))

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
        with self._malformed(promql):
            samples = [
                Sample(dict(r.get("metric", {})), _float(r["value"][1]), float(r["value"][0])) for r in data["result"]
            ]
        return Result(samples, warnings)

    def query_range(self, promql: str, start: datetime, end: datetime, step_s: float) -> Result:
        params = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s:g}",
        }
        data, warnings = self._get("/api/v1/query_range", params, promql)
        with self._malformed(promql):
            series = [
                Series(dict(r.get("metric", {})), tuple((float(t), _float(v)) for t, v in r.get("values", [])))
                for r in data["result"]
            ]
        return Result(series, warnings)

    @contextmanager
    def _malformed(self, promql: str) -> Iterator[None]:
        try:
            yield
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as e:
            raise TemporaryError(
                f"Prometheus at {self.url} answered {promql!r} with a malformed result ({type(e).__name__}: {e}); "
                "check that the URL is a Prometheus API"
            ) from e

    def _get(self, path: str, params: dict[str, str], promql: str) -> tuple[dict, list[str]]:
        resp = self._http.request("GET", path, params=params)
        if resp.status in (400, 422):
            raise InputError(
                f"Prometheus at {self.url} rejected {promql!r}: {_error_text(resp)}; fix the PromQL "
                "in the collector config"
            )
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status >= 300 or not isinstance(body, dict) or body.get("status") != "success":
            why = _error_text(resp) if isinstance(body, dict) else f"HTTP {resp.status}, not a Prometheus answer"
            raise TemporaryError(
                f"Prometheus at {self.url} did not answer {promql!r} ({why}); check it is up, "
                "the last known values are kept meanwhile",
                retry_after_s=max(1.0, self._http.retry.delay_s(self._http.retry.attempts)),
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise TemporaryError(f"Prometheus at {self.url} answered {promql!r} with no data; check it is healthy")
        return data, [str(w) for w in body.get("warnings", []) if isinstance(w, str)]


def _error_text(resp: Response) -> str:
    try:
        body = resp.json()
        return f"{body.get('errorType')}: {body.get('error')}"
    except Exception:  # noqa: BLE001 — the status line is the fallback
        return f"HTTP {resp.status}"
