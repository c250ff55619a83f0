"""The product's one HTTP client against a scripted loopback server: retries of 503/429 and
refused connections with jittered exponential backoff, Retry-After honoured (seconds and HTTP
dates), no retry of 4xx, the body cap, and what the CLI and the Prometheus client make of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from suanwang.errors import PermanentError, PermissionDenied, TemporaryError
from suanwang.httpclient import HttpClient, RetryPolicy, retry_after_s
from suanwang.scheduler.cli.remote import call, seg
from tests.jsonhttp import serve_raw
from tests.ports import free_port


class Script:
    """Answers in order: (status, headers, body); the last one repeats."""

    def __init__(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.answers = list(answers)
        self.paths: list[str] = []

    def next(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.paths.append(path)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def scripted():
    servers = []

    def start(script: Script) -> str:
        server, url = serve_raw(lambda method, path, body: script.next(path))
        servers.append(server)
        return url

    yield start
    for s in servers:
        s.shutdown()


def _client(url: str, waits: list[float], attempts: int = 3, **kw) -> HttpClient:
    policy = RetryPolicy(attempts=attempts, base_s=0.5, cap_s=8.0, rng=lambda lo, hi: hi)  # the top of the jitter
    return HttpClient(url, retry=policy, sleep=waits.append, **kw)


def test_retry_after_seconds_is_honoured(scripted):
    script = Script((503, {"Retry-After": "7"}, b"busy"), (200, {}, b'{"ok": true}'))
    waits: list[float] = []
    resp = _client(scripted(script), waits).request("GET", "/x")
    assert resp.status == 200 and resp.json() == {"ok": True}
    assert waits == [7.0] and script.paths == ["/x", "/x"]


def test_retry_after_http_date_and_cap():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert retry_after_s(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == pytest.approx(90)
    assert retry_after_s("soon") is None and retry_after_s(None) is None
    assert RetryPolicy(cap_s=8.0).delay_s(0, 90.0) == 8.0  # never longer than the cap


def test_backoff_grows_exponentially_with_full_jitter(scripted):
    script = Script((503, {}, b"down"))
    waits: list[float] = []
    last = _client(scripted(script), waits, attempts=4).request("GET", "/down")
    assert last.status == 503 and last.body == b"down" and len(script.paths) == 4  # the last answer, to report
    assert waits == [0.5, 1.0, 2.0]  # base · 2^attempt at the top of the jitter
    refused: list[float] = []
    with pytest.raises(TemporaryError, match="after 4 tries") as e:
        _client(f"http://127.0.0.1:{free_port()}", refused, attempts=4).request("GET", "/")
    assert refused == [0.5, 1.0, 2.0]
    assert e.value.retry_after_s == 8.0  # the next delay the policy would wait, capped
    lows = [RetryPolicy(rng=lambda lo, hi: lo).delay_s(a) for a in range(3)]
    assert lows == [0.0, 0.0, 0.0]  # full jitter: anything from 0 up


def test_client_errors_are_not_retried(scripted):
    script = Script((404, {}, b'{"detail": "no such job"}'))
    waits: list[float] = []
    assert _client(scripted(script), waits).request("GET", "/v1/jobs/x").status == 404
    assert waits == [] and len(script.paths) == 1


def test_body_cap(scripted):
    url = scripted(Script((200, {}, b"x" * 5000)))
    with pytest.raises(PermanentError, match="larger than 1,000 bytes"):
        _client(url, [], max_bytes=1000).request("GET", "/big")


def test_cli_call_maps_status_and_encodes_ids(scripted):
    script = Script(
        (403, {"Content-Type": "application/problem+json"}, b'{"title": "Forbidden", "detail": "viewer"}'),
        (503, {"Retry-After": "0"}, b"{}"),
    )
    url = scripted(script)
    with pytest.raises(PermissionDenied, match="403 viewer; ask an admin"):
        call(url, "t", "GET", "/v1/jobs")
    with pytest.raises(TemporaryError, match="503"):
        call(url, "t", "POST", f"/v1/jobs/{seg('victim/cancel?')}/cancel", {})
    assert script.paths[-1] == "/v1/jobs/victim%2Fcancel%3F/cancel"  # the id stays one path segment
