"""Write a plan's manifests as YAML, one folder per site, ready for ``kubectl apply -f <folder>``
(with the site's context) or for a GitOps repository."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from suanwang.scheduler.k8s.manifests import build, propagation_policy, to_dict
from suanwang.solvers.problem import Plan, Problem

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: the same YAML, faster


def plan_id(problem: Problem, plan: Plan) -> str:
    """Deterministic id of a plan: its time (to the second), its placements, the jobs it left out
    and the work it evicts. Two plans of one second differ in id whenever they differ in what
    they decide, so neither is taken for the other when it is recorded."""
    text = problem.now.isoformat() + "".join(sorted(f"{p.job}@{p.site}/{p.accelerator}" for p in plan.placements))
    text += "|" + "".join(sorted(u.job + "," for u in plan.unplaced))
    text += "|" + "".join(sorted(f"{e.job}@{e.site}," for e in plan.evictions))
    return "plan-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def manifests_by_site(problem: Problem, plan: Plan, pid: str | None = None) -> dict[str, list[dict]]:
    """{site: [manifest dicts]} for every placement the plan makes (running jobs are left alone),
    annotated with the plan's id (``pid``: that of a larger plan this one is part of)."""
    pid = pid or plan_id(problem, plan)
    jobs = {j.id: j for j in problem.jobs}
    sites = {s.id: s for s in problem.topology.sites}
    out: dict[str, list[dict]] = {}
    for p in plan.placements:
        if p.fixed:
            continue
        site = sites[p.site]
        objs = [
            to_dict(o)
            for o in build(jobs[p.job], p, site, problem.topology.accelerators[p.accelerator], pid, problem.now)
        ]
        if site.kube.backend == "karmada":
            objs.append(propagation_policy(objs, site))
        out.setdefault(p.site, []).extend(objs)
    return out


def write_manifests(
    problem: Problem, plan: Plan, out_dir: Path, pid: str | None = None, by_site: dict[str, list[dict]] | None = None
) -> list[Path]:
    """Write each site's manifests under ``out_dir/<site>/`` (a Namespace, then a file per job);
    ``by_site``: the manifests, when the caller has built them already."""
    written = []
    sites = {s.id: s for s in problem.topology.sites}
    by_site = manifests_by_site(problem, plan, pid) if by_site is None else by_site
    for sid, docs in sorted(by_site.items()):
        folder = out_dir / sid
        folder.mkdir(parents=True, exist_ok=True)
        ns = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": sites[sid].kube.namespace, "labels": {"app.kubernetes.io/managed-by": "suanwang"}},
        }
        path = folder / "00-namespace.yaml"
        path.write_text(yaml.dump(ns, Dumper=_DUMPER, sort_keys=False), encoding="utf-8")
        written.append(path)
        by_job: dict[str, list[dict]] = {}
        for d in docs:
            by_job.setdefault(d["metadata"]["name"], []).append(d)
        for name, group in sorted(by_job.items()):
            path = folder / f"{name}.yaml"
            path.write_text(yaml.dump_all(group, Dumper=_DUMPER, sort_keys=False), encoding="utf-8")
            written.append(path)
    return written
