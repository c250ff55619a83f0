"""Errors as RFC 9457 problem details, mapped from the product's error hierarchy in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanwang.contract import explain, path_of
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
