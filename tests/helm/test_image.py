"""The image's Dockerfile (no container engine runs here to build it): two stages, build tools only
in the first, the same install step as the README and CI (`pip install .` of this repository),
a non-root user, `suanwang` as the entrypoint, a health check on /healthz; `.dockerignore` keeps
the virtual environment, git and caches out of the build context."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stages() -> list[list[str]]:
    out: list[list[str]] = []
    for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out


def test_two_stages_and_a_clean_final_stage():
    build, final = stages()
    assert build[0].startswith("FROM python:3.11-slim AS build") and final[0] == "FROM python:3.11-slim"
    assert any("pip install --no-cache-dir ." in line for line in build)
    text = "\n".join(final)
    assert "gcc" not in text and "apt-get" not in text and "COPY --from=build /opt/suanwang /opt/suanwang" in text


def test_non_root_entrypoint_and_healthcheck():
    final = stages()[1]
    user = next(line for line in final if line.startswith("USER "))
    assert user.split()[1] not in ("0", "root")
    assert 'ENTRYPOINT ["suanwang"]' in final
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in final)


def test_dockerignore_keeps_the_context_small():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "bench"} <= ignored
