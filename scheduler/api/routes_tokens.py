"""``/v1/tokens`` (admin): create with an expiry, list (never the secrets), revoke. A revoked or
expired token is refused (401) from the next request on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi import Path as ApiPath
from pydantic import BaseModel, ConfigDict, Field

from suanwang.contract import Name, Text
from suanwang.scheduler.api.auth import Principal, require
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import ApiToken
from suanwang.timeutil import iso

router = APIRouter(prefix="/v1")
MAX_TTL_H = 24 * 366  # a token lives at most a year


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "operator", "planner", "submitter", "viewer"]
    tenant: Name | None = None
    expires_in_h: Annotated[float, Field(gt=0, le=MAX_TTL_H, allow_inf_nan=False)] = 24 * 90
    description: Text | None = Field(None, max_length=200)


def token_view(row: ApiToken, now: datetime) -> dict[str, Any]:
    """A token as listed: who it is for and its lifetime, never its secret or hash."""
    expired = row.expires_at is not None and row.expires_at <= now
    return {
        "id": row.id,
        "role": row.role,
        "tenant": row.tenant,
        "description": row.description,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
        "active": row.revoked_at is None and not expired,
    }


@router.post("/tokens", status_code=201, summary="Create a token (its secret is shown once)")
def create(body: TokenIn, request: Request, who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    now = request.app.state.now()
    with request.app.state.sessions.begin() as s:
        row, secret = repo.issue_token(
            s, body.role, body.tenant, who.name, now, now + timedelta(hours=body.expires_in_h), body.description
        )
        return {**token_view(row, now), "token": secret}


@router.get("/tokens", summary="Tokens, without their secrets")
def list_tokens(request: Request, who: Principal = Depends(require("admin"))) -> list[dict[str, Any]]:
    now = request.app.state.now()
    with request.app.state.sessions() as s:
        return [token_view(r, now) for r in repo.list_tokens(s)]


@router.post("/tokens/{token_id}/revoke", summary="Revoke a token at once")
def revoke(
    request: Request,
    token_id: Annotated[int, ApiPath(ge=1, le=2**31 - 1)],
    who: Principal = Depends(require("admin")),
) -> dict[str, Any]:
    now = request.app.state.now()
    with request.app.state.sessions.begin() as s:
        return token_view(repo.revoke_token(s, token_id, who.name, now), now)
