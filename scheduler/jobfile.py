"""Load job files (the BRIEF's job contract) into :class:`solvers.problem.Job` s.

Every fault is reported at once with file, field path, line, value and fix. Jobs that no site of
the topology could ever host (no such accelerator anywhere, nodes too small, an SLO below the
nearest site's RTT, no CENI path within the jitter bound, a window too short) are faults too.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from suanwang.solvers.problem import (
    JOB_KINDS,
    AcceleratorRequest,
    Container,
    DataLocation,
    Deterministic,
    Job,
    JobId,
    Running,
)
from suanwang.timeutil import parse_time
from suanwang.topology.graph import NetworkGraph, graph_for
from suanwang.topology.model import Topology
from suanwang.yamldoc import Checked, join, read_document

_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_JOB_KEYS = (
    "id",
    "kind",
    "tenant",
    "priority",
    "accelerators",
    "duration_h",
    "data",
    "window",
    "preemptible",
    "origin",
    "latency_slo_ms",
    "deterministic",
    "submitted_at",
    "running",
    "container",
)


def load_jobs(source: str | Path, topology: Topology, text: str | None = None) -> tuple[list[Job], datetime | None]:
    """Jobs in the file and its optional ``plan_time``; raises InputError listing every fault."""
    doc = read_document(source, text)
    root = doc.mapping(doc.data, "")
    doc.keys(root, "", ("jobs", "plan_time"))
    plan_time = None
    if root.get("plan_time") is not None:
        plan_time = parse_time(root["plan_time"])
        if plan_time is None:
            doc.fault(
                "plan_time", "is not a date-time", "write ISO 8601, e.g. 2026-11-25T09:00:00+08:00", root["plan_time"]
            )
    jobs = parse_jobs(doc, root.get("jobs"), topology)
    doc.raise_if_faulty("job file")
    return jobs, plan_time


def jobs_from_data(specs: list[dict[str, Any]], topology: Topology, source: str) -> list[Job]:
    """Jobs from already-parsed data (an API body, a database row): the same checks, no YAML."""
    doc = Checked({"jobs": specs}, {}, source, [])
    jobs = parse_jobs(doc, doc.data["jobs"], topology)
    doc.raise_if_faulty("jobs")
    return jobs


def parse_jobs(doc: Checked, raw: Any, topology: Topology) -> list[Job]:
    graph = graph_for(topology)
    out: list[Job] = []
    seen: dict[str, int] = {}
    items = doc.sequence(raw, "jobs")
    if isinstance(raw, list) and not raw:
        doc.fault("jobs", "the job list is empty", "add at least one job under `jobs:`")
    for i, spec in enumerate(items):
        p = join("jobs", i)
        spec = doc.mapping(spec, p)
        job = _job(doc, spec, p, topology)
        if job is None:
            continue
        if job.id in seen:
            doc.fault(
                join(p, "id"), f"duplicate job id (also jobs[{seen[job.id]}])", "give each job a unique id", job.id
            )
            continue
        seen[job.id] = i
        _hostable(doc, job, p, topology, graph)
        out.append(job)
    return out


def _time(doc: Checked, spec: dict, key: str, path: str) -> datetime | None:
    if spec.get(key) is None:
        return None
    t = parse_time(spec[key])
    if t is None:
        doc.fault(join(path, key), "is not a date-time", "write ISO 8601, e.g. 2026-11-25T09:00:00+08:00", spec[key])
    return t


def _job(doc: Checked, spec: dict, p: str, topo: Topology) -> Job | None:
    doc.keys(spec, p, _JOB_KEYS)
    n_faults = len(doc.faults)
    jid = doc.string(spec, "id", p)
    kind = doc.string(spec, "kind", p, choices=JOB_KINDS)
    tenant = doc.string(spec, "tenant", p, default="default")
    priority = doc.number(spec, "priority", p, default=1, integer=True, minimum=0)
    req = _accelerators(doc, spec.get("accelerators"), join(p, "accelerators"), topo)
    needs_duration = kind in ("training", "batch")
    if needs_duration:
        duration = doc.number(spec, "duration_h", p, positive=True, unit="hours")
    else:
        duration = doc.number(spec, "duration_h", p, default=1.0, positive=True, unit="hours")
    data = None
    if spec.get("data") is not None:
        dp = join(p, "data")
        d = doc.mapping(spec["data"], dp)
        doc.keys(d, dp, ("location", "size_tb"))
        loc = doc.string(d, "location", dp)
        if loc is not None and loc not in topo.cities and all(s.id != loc for s in topo.sites):
            doc.fault(join(dp, "location"), "unknown city or site", "name a city or a site id of the topology", loc)
        size = doc.number(d, "size_tb", dp, minimum=0.0, unit="TB")
        if loc is not None and size is not None:
            data = DataLocation(loc, size)
    earliest = deadline = None
    if spec.get("window") is not None:
        wp = join(p, "window")
        w = doc.mapping(spec["window"], wp)
        doc.keys(w, wp, ("earliest", "deadline"))
        earliest, deadline = _time(doc, w, "earliest", wp), _time(doc, w, "deadline", wp)
        if earliest and deadline and deadline <= earliest:
            doc.fault(
                join(wp, "deadline"),
                "is not after earliest",
                "give a deadline later than the earliest start",
                str(deadline),
            )
    preemptible = doc.boolean(spec, "preemptible", p)
    origin = doc.string(spec, "origin", p, default=None)
    if origin is not None and origin not in topo.cities:
        doc.fault(join(p, "origin"), "unknown city", f"use a city of the topology ({', '.join(topo.cities)})", origin)
    slo = doc.number(spec, "latency_slo_ms", p, default=None, positive=True, unit="ms round trip")
    det = None
    if spec.get("deterministic") is not None:
        dp = join(p, "deterministic")
        d = doc.mapping(spec["deterministic"], dp)
        doc.keys(d, dp, ("max_jitter_us", "bandwidth_gbps"))
        jit = doc.number(d, "max_jitter_us", dp, positive=True, unit="µs")
        bw = doc.number(d, "bandwidth_gbps", dp, positive=True, unit="Gbit/s")
        if jit is not None and bw is not None:
            det = Deterministic(jit, bw)
    if kind == "inference" and origin is None:
        doc.fault(join(p, "origin"), "is required for inference", "add `origin:` with the city its users are in")
    if kind is not None and kind != "inference":
        for key in ("origin", "latency_slo_ms", "deterministic"):
            if spec.get(key) is not None:
                doc.fault(
                    join(p, key), f"applies to inference only, not {kind}", f"remove `{key}` or set kind: inference"
                )
    running = None
    if spec.get("running") is not None:
        rp = join(p, "running")
        r = doc.mapping(spec["running"], rp)
        doc.keys(r, rp, ("site", "accelerator"))
        site, acc = doc.string(r, "site", rp), doc.string(r, "accelerator", rp)
        match = [s for s in topo.sites if s.id == site]
        if site is not None and not match:
            doc.fault(join(rp, "site"), "unknown site", "name a site id of the topology", site)
        elif match and acc is not None and all(pl.accelerator != acc for pl in match[0].pools):
            doc.fault(
                join(rp, "accelerator"),
                f"site {site} has no {acc} pool",
                f"use one of: {', '.join(pl.accelerator for pl in match[0].pools)}",
                acc,
            )
        if site and acc:
            running = Running(site, acc)
    submitted = _time(doc, spec, "submitted_at", p)
    container = _container(doc, spec.get("container"), join(p, "container"))
    if len(doc.faults) > n_faults or None in (jid, kind, priority, req, duration):
        return None
    return Job(
        JobId(jid),
        kind,
        tenant or "default",
        priority,
        req,
        duration,
        data,
        earliest,
        deadline,
        bool(preemptible),
        origin,
        slo,
        det,
        submitted,
        running,
        container,
    )


def _container(doc: Checked, raw: Any, p: str) -> Container | None:
    if raw is None:
        return None
    c = doc.mapping(raw, p)
    doc.keys(c, p, ("image", "command", "args", "env", "cpu", "memory", "port"))
    image = doc.string(c, "image", p)
    lists = {}
    for key in ("command", "args"):
        v = c.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, (str, int, float)) for x in v):
            doc.fault(join(p, key), "must be a list of strings", f'write `{key}: ["...", "..."]`', v)
            v = []
        lists[key] = tuple(str(x) for x in v)
    env = doc.mapping(c.get("env"), join(p, "env"), required=False)
    cpu = doc.string(c, "cpu", p, default="1")
    memory = doc.string(c, "memory", p, default="4Gi")
    for key, value in (("cpu", cpu), ("memory", memory)):
        if value is not None and not _QUANTITY.fullmatch(value):
            doc.fault(join(p, key), "is not a Kubernetes quantity", 'write e.g. cpu: "16" or memory: 256Gi', value)
    port = doc.number(c, "port", p, default=8000, integer=True, minimum=1, maximum=65535)
    if image is None or port is None:
        return None
    return Container(
        image,
        lists["command"],
        lists["args"],
        tuple((str(k), str(v)) for k, v in env.items()),
        cpu or "1",
        memory or "4Gi",
        port,
    )


def _accelerators(doc: Checked, raw: Any, p: str, topo: Topology) -> AcceleratorRequest | None:
    a = doc.mapping(raw, p)
    doc.keys(a, p, ("count", "per_node", "models", "min_memory_gb"))
    count = doc.number(a, "count", p, positive=True, integer=True, unit="cards")
    per_node = doc.number(a, "per_node", p, default=None, positive=True, integer=True, unit="cards")
    if per_node is None and count is not None and "per_node" not in a:
        per_node = min(count, 8)
    mem = doc.number(a, "min_memory_gb", p, default=0.0, minimum=0.0, unit="GB")
    models_raw = a.get("models", "any")
    models: tuple[str, ...] = ()
    if models_raw != "any":
        if isinstance(models_raw, str):
            models_raw = [models_raw]
        if not isinstance(models_raw, list) or not models_raw:
            doc.fault(
                join(p, "models"),
                "must be a list of models or `any`",
                "write `models: [H800, A800]` or `any`",
                models_raw,
            )
        else:
            for j, m in enumerate(models_raw):
                if str(m) not in topo.accelerators:
                    doc.fault(
                        join(join(p, "models"), j),
                        "unknown accelerator model",
                        f"use one of: {', '.join(topo.accelerators)} or `any`",
                        m,
                    )
            models = tuple(str(m) for m in models_raw)
    if count is not None and per_node is not None and count % per_node:
        doc.fault(
            join(p, "per_node"),
            f"does not divide count {count}",
            f"make count a multiple of per_node (e.g. {count - count % per_node or per_node})",
            per_node,
        )
        return None
    if None in (count, per_node, mem):
        return None
    return AcceleratorRequest(count, per_node, models, mem)


def _hostable(doc: Checked, job: Job, p: str, topo: Topology, graph: NetworkGraph) -> None:
    """Faults for a job no site of the topology could ever host."""
    a = job.accelerators
    cat = topo.accelerators
    names = a.models or tuple(cat)
    ok_models = [m for m in names if cat[m].memory_gb >= a.min_memory_gb]
    pools = [(s, pl) for s in topo.sites for pl in s.pools if pl.accelerator in ok_models]
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
    fits = [(s, pl) for s, pl in pools if pl.per_node >= a.per_node and pl.nodes >= a.nodes]
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
        sites = {s.id for s, _ in fits}
        table = graph.deterministic_routes_from(job.origin) if job.deterministic else graph.routes_from(job.origin)
        reach = sorted((r.rtt_ms, sid) for sid, r in table.items() if sid in sites)
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
            d["window"] = {k: v.isoformat() for k, v in (("earliest", j.earliest), ("deadline", j.deadline)) if v}
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
            d["submitted_at"] = j.submitted_at.isoformat()
        if j.running:
            d["running"] = {"site": j.running.site, "accelerator": j.running.accelerator}
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
        doc["plan_time"] = plan_time.isoformat()
    doc["jobs"] = out
    return doc
