"""Bearer tokens and roles: admin > operator > submitter > viewer. A submitter acts only on its
own tenant's jobs. A planner reads what a viewer reads and runs capacity plans, which operators and
admins may run too."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from suanwang.scheduler.db import repo

RANK = {"viewer": 0, "planner": 0, "submitter": 1, "operator": 2, "admin": 3}
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    role: str
    tenant: str | None
    name: str

    def can_see(self, tenant: str) -> bool:
        return self.role != "submitter" or self.tenant == tenant


def principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "a bearer token is required; create one with `suanwang token create`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with request.app.state.sessions() as s:
        row = repo.verify_token(s, creds.credentials, request.app.state.now())
        if row is None:
            raise HTTPException(
                401,
                "unknown, revoked or expired token; ask an admin for a new one",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Principal(row.role, row.tenant, f"token-{row.id}")


def require(role: str):
    def check(p: Principal = Depends(principal)) -> Principal:
        if RANK[p.role] < RANK[role]:
            raise HTTPException(403, f"this needs the {role} role; your token is {p.role}")
        return p

    return check


def require_planner(p: Principal = Depends(principal)) -> Principal:
    """Capacity planning: planners, operators and admins."""
    if p.role != "planner" and RANK[p.role] < RANK["operator"]:
        raise HTTPException(403, f"capacity plans need the planner or operator role; your token is {p.role}")
    return p
