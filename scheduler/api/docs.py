"""``/docs`` served from the service itself (Swagger UI's assets from the ``swagger-ui-bundle``
package, no CDN), and the problem-details schema every error response declares in
``/openapi.json``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs-assets"


class FaultOut(BaseModel):
    """One fault of a request: where, what, and what to do."""

    file: str | None = Field(None, description="the request part or file the fault is in")
    line: int | None = None
    path: str = Field(description="field path, e.g. jobs[0].accelerators.count")
    value: Any = None
    message: str
    fix: str


class Problem(BaseModel):
    """An error as RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FaultOut] | None = Field(None, description="every fault of an invalid request (422)")
    reasons: list[str] | None = Field(None, description="why a request cannot be satisfied (409)")


_WHEN = {
    401: "no token, or a token that is unknown, revoked or expired",
    403: "the token's role or tenant does not allow this",
    404: "no such resource (or not the caller's)",
    409: "conflicts with the current state, or cannot be satisfied",
    413: "the request body is too large",
    422: "the request is invalid: every fault with its field path and fix",
    503: "a dependency is unavailable; retry after the Retry-After header",
}


def error_responses() -> dict[int | str, dict[str, Any]]:
    """The error responses every route may give, with the schema the server really sends."""
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        code: {"model": Problem, "description": text, "content": {"application/problem+json": ref}}
        for code, text in _WHEN.items()
    }


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        """The schema, with error bodies under the media type the server sends them as."""
        if app.openapi_schema is None:
            spec = build()
            for ops in spec.get("paths", {}).values():
                for op in ops.values():
                    for code in _WHEN:
                        content = op.get("responses", {}).get(str(code), {}).get("content", {})
                        content.pop("application/json", None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
