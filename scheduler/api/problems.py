"""Errors as RFC 9457 problem details, mapped from the product's error hierarchy in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanwang.errors import InfeasibleError, InputError, PermanentError, SuanwangError, TemporaryError

PROBLEM = "application/problem+json"
_STATUS: tuple[tuple[type[SuanwangError], int, str], ...] = (
    (InputError, 422, "invalid input"),
    (InfeasibleError, 409, "cannot be satisfied"),
    (PermanentError, 409, "conflicts with the current state"),
    (TemporaryError, 503, "temporarily unavailable"),
)


def problem(status: int, title: str, detail: str, instance: str, **extra) -> JSONResponse:
    body = {
        "type": f"https://suanwang.dev/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    headers = {"Retry-After": str(int(extra.pop("retry_after_s", 0)) or 5)} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


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
                return problem(status, title, getattr(exc, "summary", str(exc)), request.url.path, **extra)
        return problem(409, "cannot be done", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return problem(
            422,
            "invalid request",
            f"{len(errors)} field(s) are invalid; fix each and retry",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return problem(
            exc.status_code,
            str(exc.detail) if exc.status_code < 500 else "server error",
            str(exc.detail),
            request.url.path,
        )
