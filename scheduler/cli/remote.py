"""Calls from the CLI to a running ``suanwang serve`` (``--server``/``SUANWANG_SERVER``, token from
``--token``/``SUANWANG_TOKEN``), through the product's one HTTP client. Problem details come back
as the product's errors: a client mistake as :class:`InputError` (exit 3), an unreachable or
failing server as :class:`TemporaryError` (exit 75)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from suanwang.errors import Fault, InputError, PermissionDenied, TemporaryError
from suanwang.httpclient import HttpClient, RetryPolicy


def seg(value: str) -> str:
    """One URL path segment: an id as given, never able to reach another path."""
    return quote(value, safe="")


def call(server: str, token: str | None, method: str, path: str, body: Any = None, timeout_s: float = 60) -> Any:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # only idempotent reads are retried; a POST that timed out may have been carried out
    retry = RetryPolicy(attempts=3 if method == "GET" else 1)
    http = HttpClient(server, timeout_s=timeout_s, retry=retry, headers=headers)
    try:
        resp = http.request(method, path, body=body)
    finally:
        http.close()
    try:
        data = resp.json() if resp.body else None
    except ValueError:
        data = None
    if resp.status < 300:
        return data
    problem = data if isinstance(data, dict) else {}
    detail = problem.get("detail") or problem.get("title") or f"HTTP {resp.status}"
    if resp.status >= 500 or resp.status == 429:
        raise TemporaryError(f"{server} answered {resp.status}: {detail}; retry later")
    faults = [
        Fault(
            f.get("file") or "request",
            f.get("path", ""),
            f.get("message", ""),
            f.get("fix") or "fix the field",
            f.get("value"),
            f.get("line"),
        )
        for f in problem.get("errors", [])
        if isinstance(f, dict)
    ]
    if resp.status in (401, 403):
        hint = (
            "give a valid token with --token or SUANWANG_TOKEN"
            if resp.status == 401
            else "ask an admin for a token with that role"
        )
        raise PermissionDenied(f"{server}{path}: {resp.status} {detail}; {hint}")
    raise InputError(f"{server}{path}: {resp.status} {detail}", faults)
