"""Property-based requests generated from ``/openapi.json`` by schemathesis — valid ones and, on
purpose, invalid ones — sent through the ASGI app with an admin token (and without one): no
request gets a 5xx. Bounded: 25 examples per operation and mode."""

from __future__ import annotations

from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.topology.loader import load_topology

TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('st') / 'st.db'}")
    upgrade(engine)
    now = datetime(2026, 11, 25, 9)
    with sessions(engine).begin() as s:
        TOKENS["admin"] = repo.create_token(s, "admin", None, "test", now)
        repo.add_jobs(
            s,
            [
                {
                    "id": "j1",
                    "kind": "training",
                    "tenant": "t",
                    "priority": 1,
                    "duration_h": 1,
                    "accelerators": {"count": 8, "per_node": 8, "models": "any"},
                }
            ],
            "test",
            now,
        )
    app = create_app(engine, load_topology(), now=lambda: now)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(api_schema, mode):
    """Every operation in the schema, each with generated requests (valid ones, and ones that break
    the schema on purpose), with and without a token."""
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 15
    statuses: list[int] = []
    for op in operations:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            for headers in ({"Authorization": f"Bearer {TOKENS['admin']}"}, {}):
                response = case.call(headers=headers)
                statuses.append(response.status_code)
                assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])

        try:
            check()
        except Unsatisfiable:  # an operation with nothing to break (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE
    assert len(statuses) > 200 and {401, 422} <= set(statuses)
    if mode is GenerationMode.POSITIVE:
        assert 200 in statuses
