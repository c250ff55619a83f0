"""Load job files — the contract of :mod:`.jobspec` — into :class:`~suanwang.solvers.problem.Job` s.

Every fault is reported at once with file, field path, line, value and fix. Jobs that no site of
the topology could ever host (no such accelerator anywhere, nodes too small, an SLO below the
nearest site's RTT, no CENI path within the jitter bound, a window too short) are faults too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from suanwang.contract import Refs, validate
from suanwang.gcpause import collector_paused
from suanwang.scheduler.jobspec import ContainerSpec, JobFile, JobSpec
from suanwang.solvers.problem import (
    AcceleratorRequest,
    Container,
    DataLocation,
    Deterministic,
    Job,
    JobId,
    Running,
)
from suanwang.timeutil import iso
from suanwang.topology.graph import NetworkGraph, graph_for
from suanwang.topology.model import Topology
from suanwang.yamldoc import Checked, join, read_document


def load_jobs(source: str | Path, topology: Topology, text: str | None = None) -> tuple[list[Job], datetime | None]:
    """Jobs in the file and its optional ``plan_time``; raises InputError listing every fault."""
    doc = read_document(source, text)
    with collector_paused():
        spec = validate(JobFile, doc, doc.data, job_refs(topology))
        jobs = _checked(doc, spec.jobs if spec else [], topology, doc.data)
    doc.raise_if_faulty("job file")
    return jobs, spec.plan_time if spec else None


def jobs_from_data(specs: list[dict[str, Any]] | list[JobSpec], topology: Topology, source: str) -> list[Job]:
    """Jobs from already-parsed data (an API body, a database row): the same checks, no YAML."""
    data = {"jobs": [s.model_dump(by_alias=True, exclude_unset=True) if isinstance(s, JobSpec) else s for s in specs]}
    doc = Checked(data, {}, source, [])
    spec = validate(JobFile, doc, data, job_refs(topology))
    jobs = _checked(doc, spec.jobs if spec else [], topology, data)
    doc.raise_if_faulty("jobs")
    return jobs


def job_refs(topology: Topology) -> Refs:
    """What a job may name in ``topology``: cities, sites, accelerator models, each site's pools."""
    return Refs(
        cities=list(topology.cities),
        sites=[s.id for s in topology.sites],
        accelerators=list(topology.accelerators),
        pools={s.id: list(dict.fromkeys(p.accelerator for p in s.pools)) for s in topology.sites},
    )


def _checked(doc: Checked, specs: list[JobSpec], topology: Topology, raw: Any) -> list[Job]:
    """Duplicate ids (read from the raw list, so they are found even beside other faults) and
    whether some site could ever host each job."""
    items = raw.get("jobs") if isinstance(raw, dict) else None
    seen: dict[str, int] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        jid = item.get("id") if isinstance(item, dict) else None
        if jid is None:
            continue
        if str(jid) in seen:
            doc.fault(
                join(join("jobs", i), "id"),
                f"duplicate job id (also jobs[{seen[str(jid)]}])",
                "give each job a unique id",
                jid,
            )
        seen.setdefault(str(jid), i)
    if doc.faults:
        return []
    graph = graph_for(topology)
    fresh = _Fresh()
    jobs = [_job(s, fresh) for s in specs]
    shapes: dict[tuple, Any] = {}  # jobs of one shape share their pools and reachable sites
    for i, job in enumerate(jobs):
        _hostable(doc, job, join("jobs", i), topology, graph, shapes)
    return jobs


class _Fresh:
    """Values for the jobs made afresh, one object per distinct value. Jobs that kept the parsed
    document's own strings, numbers and times would pin its memory in pieces after it is freed:
    reading a 100,000-job file left ≈ 440 MB resident for ≈ 75 MB of jobs."""

    def __init__(self) -> None:
        self.seen: dict[tuple[type, Any], Any] = {}

    def __call__(self, v: Any) -> Any:
        if v is None or isinstance(v, bool):
            return v
        key = (type(v), v)
        hit = self.seen.get(key)
        if hit is None:
            if isinstance(v, str):
                hit = v.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") if len(v) > 1 else v
            elif isinstance(v, float):
                hit = v * 1.0
            elif isinstance(v, int):
                hit = v + 0
            elif isinstance(v, datetime):
                hit = v.replace()
            elif isinstance(v, tuple):
                hit = tuple(self(x) for x in v)
            else:
                hit = v
            self.seen[key] = hit
        return hit


def _job(s: JobSpec, f: _Fresh) -> Job:
    a = s.accelerators
    return Job(
        JobId(f(s.id)),
        f(s.kind),
        f(s.tenant),
        s.priority,
        AcceleratorRequest(
            f(a.count),
            f(a.per_node if a.per_node is not None else min(a.count, 8)),
            f(tuple(a.models)),
            f(a.min_memory_gb),
        ),
        f(s.duration_h if s.duration_h is not None else 1.0),
        DataLocation(f(s.data.location), f(s.data.size_tb)) if s.data else None,
        f(s.window.earliest) if s.window else None,
        f(s.window.deadline) if s.window else None,
        s.preemptible,
        f(s.origin),
        f(s.latency_slo_ms),
        Deterministic(f(s.deterministic.max_jitter_us), f(s.deterministic.bandwidth_gbps)) if s.deterministic else None,
        f(s.submitted_at),
        Running(f(s.running.site), f(s.running.accelerator)) if s.running else None,
        _container(s.container, f) if s.container else None,
        f(s.checkpoint_h),
    )


def _container(c: ContainerSpec, f: _Fresh) -> Container:
    env = tuple((f(k), f(v)) for k, v in c.env.items())
    return Container(f(c.image), f(tuple(c.command)), f(tuple(c.args)), env, f(c.cpu), f(c.memory), f(c.port))


def _shape_pools(topo: Topology, a, cache: dict[tuple, Any]) -> tuple[list, list]:
    """The pools with a model the job accepts, and those of them large enough for it."""
    key = (a.models, a.min_memory_gb, a.per_node, a.nodes)
    hit = cache.get(key)
    if hit is None:
        cat = topo.accelerators
        ok_models = {m for m in a.models or tuple(cat) if cat[m].memory_gb >= a.min_memory_gb}
        pools = [(s, pl) for s in topo.sites for pl in s.pools if pl.accelerator in ok_models]
        fits = [(s, pl) for s, pl in pools if pl.per_node >= a.per_node and pl.nodes >= a.nodes]
        hit = cache[key] = (pools, fits)
    return hit


def _hostable(doc: Checked, job: Job, p: str, topo: Topology, graph: NetworkGraph, cache: dict[tuple, Any]) -> None:
    """Faults for a job no site of the topology could ever host."""
    a = job.accelerators
    pools, fits = _shape_pools(topo, a, cache)
    where = join(p, "accelerators")
    if not pools:
        what = "/".join(a.models) if a.models else "any model"
        doc.fault(
            where,
            f"no site has {what} with ≥ {a.min_memory_gb:g} GB",
            "allow a model some site has",
            list(a.models) or "any",
        )
        return
    if not fits:
        most = max(pools, key=lambda t: (t[1].per_node >= a.per_node, t[1].nodes))
        doc.fault(
            where,
            f"no pool has {a.nodes} nodes of ≥ {a.per_node} cards "
            f"(largest: {most[0].id} {most[1].accelerator}, {most[1].nodes} × {most[1].per_node})",
            "split the job or lower per_node",
            a.count,
        )
        return
    if job.kind == "inference" and job.origin and job.latency_slo_ms is not None:
        table = graph.deterministic_routes_from(job.origin) if job.deterministic else graph.routes_from(job.origin)
        key = ("reach", a.models, a.min_memory_gb, a.per_node, a.nodes, job.origin, job.deterministic is not None)
        reach = cache.get(key)
        if reach is None:
            sites = {s.id for s, _ in fits}
            reach = cache[key] = sorted((r.rtt_ms, sid) for sid, r in table.items() if sid in sites)
        if not reach:
            doc.fault(
                join(p, "deterministic"),
                f"no site with the model has a CENI path from {job.origin}",
                "drop `deterministic` or choose another origin",
            )
            return
        if reach[0][0] > job.latency_slo_ms + 1e-9:
            doc.fault(
                join(p, "latency_slo_ms"),
                f"below the RTT to the nearest suitable site ({reach[0][1]}: {reach[0][0]:.2f} ms from {job.origin})",
                f"raise it to at least {reach[0][0]:.2f} ms",
                job.latency_slo_ms,
            )
            return
        if job.deterministic:
            best = min((table[sid].jitter_us or 0.0, sid) for _, sid in reach)
            if best[0] > job.deterministic.max_jitter_us + 1e-9:
                doc.fault(
                    join(join(p, "deterministic"), "max_jitter_us"),
                    f"below the least jitter of any CENI path ({best[1]}: {best[0]:.1f} µs)",
                    f"raise it to at least {best[0]:.1f} µs",
                    job.deterministic.max_jitter_us,
                )
    if job.deadline is not None and job.earliest is not None:
        span_h = (job.deadline - job.earliest).total_seconds() / 3600.0
        if span_h < job.duration_h:
            doc.fault(
                join(join(p, "window"), "deadline"),
                f"leaves {span_h:.1f} h, less than duration_h {job.duration_h:g}",
                "move the deadline later or shorten the job",
                str(job.deadline),
            )


def jobs_to_dict(jobs: list[Job], plan_time: datetime | None = None) -> dict[str, Any]:
    """Jobs as the YAML contract's plain data (the loader's inverse)."""
    out = []
    for j in jobs:
        d: dict[str, Any] = {"id": j.id, "kind": j.kind, "tenant": j.tenant, "priority": j.priority}
        acc: dict[str, Any] = {
            "count": j.accelerators.count,
            "per_node": j.accelerators.per_node,
            "models": list(j.accelerators.models) or "any",
        }
        if j.accelerators.min_memory_gb:
            acc["min_memory_gb"] = j.accelerators.min_memory_gb
        d["accelerators"] = acc
        d["duration_h"] = j.duration_h
        if j.data:
            d["data"] = {"location": j.data.location, "size_tb": j.data.size_tb}
        if j.earliest or j.deadline:
            d["window"] = {k: iso(v) for k, v in (("earliest", j.earliest), ("deadline", j.deadline)) if v}
        if j.preemptible:
            d["preemptible"] = True
        if j.origin:
            d["origin"] = j.origin
        if j.latency_slo_ms is not None:
            d["latency_slo_ms"] = j.latency_slo_ms
        if j.deterministic:
            d["deterministic"] = {
                "max_jitter_us": j.deterministic.max_jitter_us,
                "bandwidth_gbps": j.deterministic.bandwidth_gbps,
            }
        if j.submitted_at:
            d["submitted_at"] = iso(j.submitted_at)
        if j.running:
            d["running"] = {"site": j.running.site, "accelerator": j.running.accelerator}
        if j.checkpoint_h:
            d["checkpoint_h"] = j.checkpoint_h
        if j.container:
            c = j.container
            d["container"] = {
                "image": c.image,
                "command": list(c.command),
                "args": list(c.args),
                "env": dict(c.env),
                "cpu": c.cpu,
                "memory": c.memory,
                "port": c.port,
            }
        out.append(d)
    doc: dict[str, Any] = {}
    if plan_time:
        doc["plan_time"] = iso(plan_time)
    doc["jobs"] = out
    return doc
