"""Errors as RFC 9457 problem details, mapped from the product's error hierarchy in one place."""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanwang.contract import explain, path_of
from suanwang.errors import (
    Busy,
    InfeasibleError,
    InputError,
    PermanentError,
    PermissionDenied,
    SuanwangError,
    TemporaryError,
)

PROBLEM = "application/problem+json"
_STATUS: tuple[tuple[type[SuanwangError], int, str], ...] = (
    (InputError, 422, "invalid input"),
    (InfeasibleError, 409, "cannot be satisfied"),
    (PermanentError, 409, "conflicts with the current state"),
    (Busy, 429, "too many requests"),
    (TemporaryError, 503, "temporarily unavailable"),
    (PermissionDenied, 403, "forbidden"),
)


log = logging.getLogger("suanwang.api")
MAX_BODY_BYTES = 32 * 1024 * 1024  # 10,000 jobs of ≈ 1–3 KB each fit with room to spare


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` bytes is answered 413, declared or not."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(scope, receive, send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        response = problem(
            413,
            "request too large",
            f"the body is larger than {self.limit:,} bytes; send fewer jobs per request",
            scope.get("path", ""),
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def problem(
    status: int, title: str, detail: str, instance: str, retry_after_s: float | None = None, **extra
) -> JSONResponse:
    """Problem details; a 503 or 429 carries ``Retry-After`` with the delay the cause suggests
    (whole seconds, at least 1)."""
    body = _jsonable(
        {
            "type": f"https://suanwang.dev/problems/{status}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
            **extra,
        }
    )
    headers = None
    if status in (429, 503):
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s if retry_after_s is not None else 5.0)))}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _jsonable(value: Any) -> Any:
    """What JSON can carry: non-finite numbers as text, long texts cut, anything else as text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value[:100]]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _jsonable(str(value))


def install(app: FastAPI) -> None:
    @app.exception_handler(SuanwangError)
    async def _domain(request: Request, exc: SuanwangError):
        for cls, status, title in _STATUS:
            if isinstance(exc, cls):
                extra = {}
                if isinstance(exc, InputError) and exc.faults:
                    extra["errors"] = [f.to_dict() for f in exc.faults]
                if isinstance(exc, InfeasibleError) and exc.reasons:
                    extra["reasons"] = list(exc.reasons)
                if isinstance(exc, TemporaryError):
                    extra["retry_after_s"] = exc.retry_after_s
                return problem(status, title, getattr(exc, "summary", str(exc)), request.url.path, **extra)
        return problem(409, "cannot be done", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        route = request.scope.get("route")
        body_model, context = _body_contract(request, route)
        raw = list(exc.errors())
        if body_model is not None and context is not None and isinstance(exc.body, dict):
            try:  # again with the topology at hand: every fault of the body at once
                body_model.model_validate(exc.body, context=context)
            except ValidationError as again:
                raw = [{**e, "loc": ("body", *e["loc"])} for e in again.errors(include_url=False)]
        errors = [_fault(e, body_model) for e in raw]
        return problem(
            422,
            "invalid request",
            f"{len(errors)} field(s) are invalid; fix each and retry",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        """Whatever the cause, the caller gets problem details with an id the log carries."""
        error_id = uuid.uuid4().hex[:12]
        log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return problem(
            500,
            "server error",
            f"an unexpected error occurred (id {error_id}); report the id to the operators",
            request.url.path,
            error_id=error_id,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return problem(
            exc.status_code,
            str(exc.detail) if exc.status_code < 500 else "server error",
            str(exc.detail),
            request.url.path,
        )


def _body_contract(request: Request, route: Any) -> tuple[type[BaseModel] | None, Any]:
    """The route's body model and the validation context its references need, where declared."""
    endpoint = getattr(route, "endpoint", None)
    model = getattr(endpoint, "body_model", None)
    refs = getattr(endpoint, "body_refs", None)
    return model, refs(request) if refs is not None else None


def _fault(error: dict[str, Any], model: type[BaseModel] | None) -> dict[str, Any]:
    """A request validation error in the shape of the product's faults."""
    loc = tuple(error.get("loc") or ())
    where = "request body" if loc[:1] == ("body",) else f"request {loc[0]}" if loc else "request"
    inner = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    message, fix, value = explain({**error, "loc": inner}, model)
    return {"file": where, "line": None, "path": path_of(inner), "value": value, "message": message, "fix": fix}
