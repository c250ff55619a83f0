"""``suanwang carbon pull`` against a local double of each source's API (``ApiDouble``: a real HTTP
server on 127.0.0.1 answering in the documented shapes of Electricity Maps' API v3 and NESO's
Carbon Intensity API, which cannot be reached from here): the file the topology names is replaced
whole and then taken by plans; half-hours become their hour's mean, and hours without a figure
are left out; a refused token, a server fault, a body out of bounds or an answer for another zone
write nothing, leave the old file and its age as they were, and exit non-zero."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from suanwang.collectors.carbon_feed import read_all
from suanwang.collectors.carbon_pull import pull
from suanwang.errors import PermanentError, TemporaryError
from suanwang.httpclient import RetryPolicy
from suanwang.scheduler.cli import app
from suanwang.scheduler.cli.errors import EXIT_FAILURE, EXIT_INPUT
from suanwang.timeutil import to_local
from suanwang.topology.loader import load_topology
from tests.collectors.test_carbon_feed import topology

TOKEN = "test-token"


class ApiDouble:
    """A local stand-in for the two APIs: ``answers[path]`` is (status, JSON body or raw bytes)
    or a function of the query; every request is recorded."""

    def __init__(self) -> None:
        self.answers: dict[str, object] = {}
        self.seen: list[tuple[str, dict, dict]] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                double.seen.append((url.path, query, dict(self.headers)))
                answer = double.answers.get(url.path, (404, {"error": "not found"}))
                status, body = answer(query, dict(self.headers)) if callable(answer) else answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def api():
    double = ApiDouble()
    yield double
    double.close()


def _hour(offset_h: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=offset_h)


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def em_forecast(zone="GB", hours=48, value=lambda h: 100 + h):
    items = [{"datetime": _z(_hour(h)), "carbonIntensity": value(h)} for h in range(hours)]
    return {"zone": zone, "forecast": items, "updatedAt": _z(_hour(0))}


def with_token(body):
    def answer(query, headers):
        if headers.get("auth-token") != TOKEN:
            return 401, {"error": "unauthorized"}
        return 200, body

    return answer


@pytest.fixture()
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", TOKEN)
    topo = topology(tmp_path, feed={"path": "fc.csv"}, measured={"path": "m.csv"})
    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(app, ["carbon", "pull", "js", "-t", topo, *args])

    return _run, topo


def test_an_electricity_maps_forecast_replaces_the_feed_file_and_plans_take_it(api, run, tmp_path):
    cli, topo = run
    api.answers["/v3/carbon-intensity/forecast"] = with_token(em_forecast())
    r = cli("--source", "electricitymaps", "--source-zone", "GB", "--base-url", api.url, "-o", "json")
    assert r.exit_code == 0, r.output
    said = json.loads(r.output)
    assert said["hours"] == 48 and said["path"] == str(tmp_path / "fc.csv") and said["first"].endswith("+08:00")
    path, query, headers = api.seen[-1]
    assert query == {"zone": "GB"} and headers["auth-token"] == TOKEN
    reading = read_all(load_topology(topo), to_local(datetime.now(UTC))).readings["forecast"]["js"]
    assert reading.used, reading.problem
    first = to_local(_hour(0))
    assert reading.hours[first] == pytest.approx(0.100) and reading.hours[first + timedelta(hours=5)] == pytest.approx(
        0.105
    )
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".fc.csv.")]  # no temporary file left behind


def test_nesos_half_hours_become_hourly_means_and_unmeasured_ones_are_left_out(api, run, tmp_path):
    cli, topo = run
    now = _hour(0)
    halves = []
    for h in range(-24, 1):
        for half, value in ((0, 100), (30, 200)):
            t = now + timedelta(hours=h, minutes=half)
            actual = None if (h == 0 or (h == -3 and half == 30)) else value + h
            halves.append({"from": t.strftime("%Y-%m-%dT%H:%MZ"), "to": (t + timedelta(minutes=30)).strftime(
                "%Y-%m-%dT%H:%MZ"), "intensity": {"forecast": 150, "actual": actual, "index": "low"}})  # fmt: skip
    api.answers[f"/intensity/{(now + timedelta(hours=1)):%Y-%m-%dT%H:%MZ}/pt24h"] = (200, {"data": halves})
    r = cli("--source", "gb-carbon-intensity", "--source-zone", "GB", "--kind", "measured", "--base-url", api.url)
    assert r.exit_code == 0, r.output
    assert "wrote 24 measured hours of GB (gb-carbon-intensity)" in " ".join(r.output.split())
    reading = read_all(load_topology(topo), to_local(datetime.now(UTC))).readings["measured"]["js"]
    assert reading.used, reading.problem
    local = to_local(now)
    assert reading.hours[local - timedelta(hours=1)] == pytest.approx(0.149)  # (99 + 199) / 2
    assert reading.hours[local - timedelta(hours=3)] == pytest.approx(0.097)  # its second half not yet measured
    assert local not in reading.hours  # the current hour has no actual figure yet


@pytest.mark.parametrize(
    ("answer", "code", "says"),
    [
        ((401, {"error": "unauthorized"}), EXIT_INPUT, "refused the token"),
        ((404, {"error": "zone"}), EXIT_INPUT, "check the zone code"),
        ((200, b"<html>maintenance</html>"), EXIT_FAILURE, "not JSON"),
        ((200, em_forecast(value=lambda h: 9000)), EXIT_FAILURE, "outside 0–5,000"),
        ((200, em_forecast(value=lambda h: "high")), EXIT_FAILURE, "is not a number"),
        ((200, em_forecast(zone="FR")), EXIT_FAILURE, "not 'GB'"),
        ((200, em_forecast(hours=800)), EXIT_FAILURE, "more than a month"),
        ((200, {"forecast": [{"datetime": "2026-12-02T10:00:00", "carbonIntensity": 1}]}), EXIT_FAILURE, "no offset"),
        ((200, em_forecast(hours=0)), EXIT_FAILURE, "gave no forecast hour"),
    ],
)
def test_a_pull_that_fails_writes_nothing_and_exits_non_zero(api, run, tmp_path, answer, code, says):
    cli, _ = run
    old = tmp_path / "fc.csv"
    old.write_text("Datetime (UTC),Carbon Intensity gCO₂eq/kWh (LCA)\n2026-01-01 00:00:00,1\n")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    api.answers["/v3/carbon-intensity/forecast"] = answer
    r = cli("--source", "electricitymaps", "--source-zone", "GB", "--base-url", api.url)
    assert r.exit_code == code, r.output
    assert says in " ".join(r.output.split())
    assert old.read_text().endswith(",1\n") and old.stat().st_mtime == 1_000_000_000  # the old file keeps its age


def test_without_a_token_nothing_is_asked(api, run, monkeypatch):
    cli, _ = run
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN")
    r = cli("--source", "electricitymaps", "--source-zone", "GB", "--base-url", api.url)
    assert r.exit_code == EXIT_INPUT and "needs an API token" in " ".join(r.output.split())
    assert api.seen == []


def test_bad_arguments_name_the_fix(run, tmp_path):
    cli, _ = run
    r = cli("--source", "nowhere", "--source-zone", "GB")
    assert r.exit_code == EXIT_INPUT and "use one of electricitymaps, gb-carbon-intensity" in r.output
    r = cli("--source", "electricitymaps", "--source-zone", "GB/../x")
    assert r.exit_code == EXIT_INPUT and "--source-zone" in r.output
    r = cli("--source", "electricitymaps", "--source-zone", "GB", "--base-url", "file:///etc/passwd")
    assert r.exit_code == EXIT_INPUT and "--base-url" in r.output
    r = cli("--source", "electricitymaps", "--source-zone", "GB", "--token-env", "A B")
    assert r.exit_code == EXIT_INPUT and "--token-env" in r.output
    (tmp_path / "plain").mkdir()
    plain = topology(tmp_path / "plain", series=False)  # no feed files named
    args = ["carbon", "pull", "js", "-t", plain, "--source", "electricitymaps", "--source-zone", "GB"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == EXIT_INPUT and "names no grid_zones.js.carbon_forecast file" in " ".join(r.output.split())


def test_a_server_fault_is_retried_then_temporary(api):
    api.answers["/intensity/2026-12-02T02:00Z/fw48h"] = (503, {"error": "busy"})
    with pytest.raises(TemporaryError, match="pull again later"):
        pull("gb-carbon-intensity", "GB", "forecast", datetime(2026, 12, 2, 2, 30, tzinfo=UTC), base_url=api.url,
             retry=RetryPolicy(2, 0.0))  # fmt: skip
    assert [p for p, _, _ in api.seen] == ["/intensity/2026-12-02T02:00Z/fw48h"] * 2
    api.answers["/intensity/2026-12-02T02:00Z/fw48h"] = (200, {"data": []})
    with pytest.raises(PermanentError, match="gave no forecast hour"):
        pull("gb-carbon-intensity", "GB", "forecast", datetime(2026, 12, 2, 2, 30, tzinfo=UTC), base_url=api.url)
