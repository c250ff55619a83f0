"""Tokens on SQLite and PostgreSQL: created with an expiry through the admin API and the CLI,
listed without secrets, refused (401) from the very next request once revoked or expired, and
only admins manage them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.cli import app as cli
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions

T0 = datetime(2026, 11, 25, 9, 0)


@pytest.fixture()
def world(engine, jiangsu):
    clock = {"now": T0}
    app = create_app(engine, jiangsu, now=lambda: clock["now"])
    with sessions(engine).begin() as s:
        admin = repo.create_token(s, "admin", None, "setup", T0)
    client = TestClient(app, raise_server_exceptions=False)

    def call(method, path, token=admin, **kw):
        return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)

    return call, clock


def test_create_list_revoke(world):
    call, _ = world
    r = call(
        "POST", "/v1/tokens", json={"role": "submitter", "tenant": "lab-a", "expires_in_h": 48, "description": "ci"}
    )
    assert r.status_code == 201
    made = r.json()
    secret = made["token"]
    assert secret.startswith("sw_") and made["expires_at"] == (T0 + timedelta(hours=48)).isoformat() + "+08:00"
    assert call("GET", "/v1/jobs", secret).status_code == 200
    listed = call("GET", "/v1/tokens").json()
    assert {t["id"] for t in listed} >= {made["id"]} and all(t["active"] for t in listed)
    text = str(listed)
    assert secret not in text and "token_hash" not in text and "sw_" not in text
    assert call("POST", f"/v1/tokens/{made['id']}/revoke").json()["active"] is False
    refused = call("GET", "/v1/jobs", secret)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert call("POST", "/v1/tokens/999999/revoke").status_code == 422


def test_expired_tokens_are_refused_at_once(world):
    call, clock = world
    secret = call("POST", "/v1/tokens", json={"role": "viewer", "expires_in_h": 1}).json()["token"]
    clock["now"] = T0 + timedelta(minutes=59)
    assert call("GET", "/v1/sites", secret).status_code == 200
    clock["now"] = T0 + timedelta(hours=1)
    assert call("GET", "/v1/sites", secret).status_code == 401
    assert [t["active"] for t in call("GET", "/v1/tokens").json() if t["role"] == "viewer"] == [False]


def test_only_admins_manage_tokens_and_bounds_hold(world):
    call, _ = world
    op = call("POST", "/v1/tokens", json={"role": "operator"}).json()["token"]
    assert call("GET", "/v1/tokens", op).status_code == 403
    assert call("POST", "/v1/tokens", op, json={"role": "admin"}).status_code == 403
    for bad in ({"role": "root"}, {"role": "viewer", "expires_in_h": 0}, {"role": "viewer", "expires_in_h": 1e9}):
        assert call("POST", "/v1/tokens", json=bad).status_code == 422
    assert call("POST", "/v1/tokens", json={"role": "submitter"}).status_code == 422  # needs a tenant


def test_cli_create_get_revoke(tmp_path):
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "--role", "viewer", "--expires-in", "12h", "--database-url", url])
    assert made.exit_code == 0 and made.stdout.strip().startswith("sw_")
    got = runner.invoke(cli, ["token", "get", "-o", "json", "--database-url", url])
    import json

    rows = json.loads(got.stdout)
    assert len(rows) == 1 and rows[0]["role"] == "viewer" and rows[0]["active"] and "sw_" not in got.stdout
    assert runner.invoke(cli, ["token", "revoke", str(rows[0]["id"]), "--database-url", url]).exit_code == 0
    again = json.loads(runner.invoke(cli, ["token", "get", "-o", "json", "--database-url", url]).stdout)
    assert again[0]["active"] is False and again[0]["revoked_at"]
    assert (
        runner.invoke(
            cli, ["token", "create", "--role", "viewer", "--expires-in", "400d", "--database-url", url]
        ).exit_code
        == 3
    )
