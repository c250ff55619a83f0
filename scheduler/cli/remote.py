"""Calls from the CLI to a running ``suanwang serve`` (``--server``/``SUANWANG_SERVER``, token from
``--token``/``SUANWANG_TOKEN``). Problem details come back as the product's errors: a client
mistake as :class:`InputError` (exit 3), an unreachable or failing server as :class:`TemporaryError`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import typer

from suanwang.errors import Fault, InputError, TemporaryError

ServerOpt = typer.Option(None, "--server", envvar="SUANWANG_SERVER", help="URL of a suanwang server.")
TokenOpt = typer.Option(None, "--token", envvar="SUANWANG_TOKEN", help="Bearer token for the server.")


def call(server: str, token: str | None, method: str, path: str, body: Any = None, timeout_s: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.rstrip("/") + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (operator-given URL)
            return json.loads(resp.read().decode() or "null")
    except urllib.error.HTTPError as e:
        try:
            problem = json.loads(e.read().decode())
        except ValueError:
            problem = {"detail": e.reason}
        detail = problem.get("detail") or problem.get("title") or str(e.code)
        if e.code >= 500:
            raise TemporaryError(f"{server} answered {e.code}: {detail}; retry later") from e
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
        ]
        hint = {
            401: "; give a token with --token or SUANWANG_TOKEN",
            403: "; ask an admin for a token with that role",
            404: "",
        }.get(e.code, "")
        raise InputError(f"{server}{path}: {e.code} {detail}{hint}", faults) from e
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise TemporaryError(f"cannot reach {server} ({e}); check the URL and that `suanwang serve` runs") from e
