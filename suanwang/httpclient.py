"""The one HTTP client of the product (httpx) and its one retry policy.

Every outbound call — Prometheus, the CLI against a server, anything added later — goes through
:class:`HttpClient`: a timeout on every request, bodies read up to a cap, and retries of transport
faults, 429 and 5xx answers with jittered exponential backoff ("full jitter": a uniform delay up
to ``base_s · 2^attempt``, capped) that honours a server's ``Retry-After``. What is left after the
last try is a :class:`TemporaryError` whose ``retry_after_s`` is the delay the policy would wait.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from suanwang.errors import PermanentError, TemporaryError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BODY_BYTES = 16 * 1024 * 1024  # 16 MiB: a Prometheus answer or API page larger than this is a fault


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: ``attempts`` tries in all, delays up to ``cap_s``."""

    attempts: int = 3
    base_s: float = 0.2
    cap_s: float = 30.0
    rng: Callable[[float, float], float] = field(default=random.uniform, compare=False, repr=False)

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after_s is not None:
            return min(self.cap_s, max(0.0, retry_after_s))
        return self.rng(0.0, min(self.cap_s, self.base_s * 2**attempt))


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date; ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; :class:`ValueError` when it is not JSON text."""
        return json.loads(self.body.decode("utf-8"))


class HttpClient:
    """Requests to one base URL with the product's timeout, size cap and retry policy."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        headers: dict[str, str] | None = None,
        max_bytes: int = MAX_BODY_BYTES,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.max_bytes = max_bytes
        self.sleep = sleep
        self._client = httpx.Client(timeout=timeout_s, headers=headers or {}, transport=transport)

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None) -> Response:
        """The server's answer: the first one that is not retryable, or the last one.

        Raises :class:`TemporaryError` when the server could not be reached on the last try, and
        :class:`PermanentError` when a body is larger than the cap.
        """
        url = self.base_url + path
        last = ""
        wait = 0.0
        for attempt in range(self.retry.attempts):
            if attempt:
                self.sleep(wait)
            try:
                resp = self._send(method, url, params, body)
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                wait = self.retry.delay_s(attempt)
                continue
            if resp.status in RETRY_STATUSES and attempt + 1 < self.retry.attempts:
                last = f"HTTP {resp.status}"
                wait = self.retry.delay_s(attempt, retry_after_s(resp.headers.get("retry-after")))
                continue
            return resp
        raise TemporaryError(
            f"{self.base_url} did not answer {method} {path} after {self.retry.attempts} tries ({last}); "
            "check that it is up and reachable, then retry",
            retry_after_s=max(1.0, self.retry.delay_s(self.retry.attempts)),
        )

    def _send(self, method: str, url: str, params: dict[str, str] | None, body: Any) -> Response:
        kwargs: dict[str, Any] = {"params": params}
        if body is not None:
            kwargs["json"] = body
        with self._client.stream(method, url, **kwargs) as r:
            chunks: list[bytes] = []
            size = 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise PermanentError(
                        f"{url}: answer larger than {self.max_bytes:,} bytes; narrow the request "
                        "(fewer series, a smaller page)"
                    )
                chunks.append(chunk)
            return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, b"".join(chunks))
