"""Tenant quotas as rows of the placement model, with Kueue's ClusterQueue/Cohort semantics.

A quota gives a tenant, for one accelerator model, a **nominal** number of cards (guaranteed),
optionally in a **cohort** whose members lend one another what they leave unused. Like Kueue's
``borrowingLimit`` and ``lendingLimit``: a tenant may use at most ``nominal + borrowing_limit``
(no limit: what the cohort has unused), and of its nominal quota at most ``lending_limit`` may be
used by others (no limit: all of it while unused). Quotas govern only the (tenant, model) pairs
they name, and a quota may hold for a group of sites only (``sites``; none: every site), with its
own rows. Cards held by running jobs count.

The nominal quota is a guarantee, as with Kueue's ``reclaimWithinCohort: Any``: work within it
outranks any priority of work that would borrow (its score is lifted by :data:`GUARANTEE_LIFT`
on every pool it may use, so that the lift never steers it away from the pool it would choose;
:func:`guaranteed_jobs` marks the waiting jobs that on their own fit the unused nominal quota of a
model they accept), and it may evict what cohort mates run on borrowed quota
(solvers.preempt), while work that would borrow never evicts what another tenant runs within its
nominal quota.

Rows (the numbering of :mod:`suanwang.solvers`), over the cards u[t,m] a tenant t uses of model m
(running plus placed by the plan):
    (25) u[t,m] ≤ nominal[t,m] + borrowing_limit[t,m]            (without a cohort: ≤ nominal)
    (26) Σ_{t ∈ C} u[t,m] ≤ Σ_{t ∈ C} nominal[t,m]                 a cohort shares its quota
    (27) Σ_{t' ∈ C, t' ≠ t} u[t',m] ≤ Σ_{t' ∈ C} nominal[t',m] − (nominal[t,m] − lending_limit[t,m])
         what t does not lend stays free for t
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# priority steps (the most a job may have) added per card to guaranteed work (a job its tenant's
# unused nominal quota covers) and to work no quota governs, so that it outranks any priority of
# work that would borrow (the nominal quota is a guarantee)
GUARANTEE_LIFT = 1000


@dataclass(frozen=True)
class Quota:
    tenant: str
    accelerator: str
    nominal_cards: int
    borrowing_limit_cards: int | None = None  # None: up to what the cohort leaves unused
    lending_limit_cards: int | None = None  # None: all its unused nominal may be lent
    cohort: str | None = None
    sites: frozenset[str] | None = None  # the site group it holds for (None: every site)


@dataclass(frozen=True)
class QuotaRow:
    """One row: the cards used by ``members`` stay within ``limit_cards``."""

    name: str
    kind: str  # "tenant" (25) | "cohort" (26) | "guarantee" (27)
    members: frozenset[tuple[str, str]]  # (tenant, model)
    limit_cards: int
    used_cards: int  # by running jobs of the members
    tenant: str | None = None  # the tenant of a (25) row, the protected tenant of a (27) row
    cohort: str | None = None
    accelerator: str = ""
    sites: frozenset[str] | None = None  # only cards at these sites count (None: every site)

    def counts(self, tenant: str, model: str, site: str) -> bool:
        return (tenant, model) in self.members and (self.sites is None or site in self.sites)

    @property
    def room_cards(self) -> int:
        return max(0, self.limit_cards - self.used_cards)


def running_usage(jobs: Iterable, sites: frozenset[str] | None = None) -> dict[tuple[str, str], int]:
    """Cards held by running jobs (at ``sites``; None: anywhere), by (tenant, model)."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for j in jobs:
        if j.running is not None and (sites is None or j.running.site in sites):
            out[j.tenant, j.running.accelerator] += j.accelerators.count
    return out


def quota_rows(quotas: Iterable[Quota], jobs: Iterable) -> list[QuotaRow]:
    """Rows (25)–(27) for ``quotas``, with what running ``jobs`` already use."""
    quotas = list(quotas)
    jobs = list(jobs)
    usage = {g: running_usage(jobs, g) for g in {q.sites for q in quotas}}
    rows: list[QuotaRow] = []
    cohorts: dict[tuple, list[Quota]] = defaultdict(list)
    for q in quotas:
        if q.cohort is not None:
            cohorts[q.cohort, q.accelerator, q.sites].append(q)
    for q in quotas:
        used = usage[q.sites]
        key = (q.tenant, q.accelerator)
        if q.cohort is None:
            limit = q.nominal_cards
        elif q.borrowing_limit_cards is not None:
            limit = q.nominal_cards + q.borrowing_limit_cards
        else:
            continue  # bounded by its cohort's row
        rows.append(
            QuotaRow(f"quota[{q.tenant},{q.accelerator}{_at(q.sites)}]", "tenant", frozenset([key]), limit,
                     used.get(key, 0), tenant=q.tenant, cohort=q.cohort, accelerator=q.accelerator, sites=q.sites)
        )  # fmt: skip
    for (cohort, model, group), members in cohorts.items():
        used = usage[group]
        keys = frozenset((q.tenant, model) for q in members)
        total = sum(q.nominal_cards for q in members)
        rows.append(
            QuotaRow(f"cohort[{cohort},{model}{_at(group)}]", "cohort", keys, total, sum(used.get(k, 0) for k in keys),
                     cohort=cohort, accelerator=model, sites=group)
        )  # fmt: skip
        for q in members:
            kept = q.nominal_cards - (q.lending_limit_cards if q.lending_limit_cards is not None else q.nominal_cards)
            if kept <= 0:
                continue
            others = keys - {(q.tenant, model)}
            rows.append(
                QuotaRow(f"guarantee[{q.tenant},{model}{_at(group)}]", "guarantee", frozenset(others), total - kept,
                         sum(used.get(k, 0) for k in others), tenant=q.tenant, cohort=cohort, accelerator=model,
                         sites=group)
            )  # fmt: skip
    return rows


def _at(sites: frozenset[str] | None) -> str:
    return "" if sites is None else "@" + "+".join(sorted(sites))[:80]


def nominal_room(
    quotas: Iterable[Quota], jobs: Iterable
) -> dict[tuple[str, str], list[tuple[frozenset[str] | None, int]]]:
    """Cards of each (tenant, model)'s nominal quota its running jobs leave unused, per site group.
    Work placed within this room is guaranteed: among equal priorities it goes first (solvers.fair),
    and it may reclaim what cohort mates borrow at any priority (solvers.preempt)."""
    quotas, jobs = list(quotas), list(jobs)
    usage = {g: running_usage(jobs, g) for g in {q.sites for q in quotas}}
    out: dict[tuple[str, str], list[tuple[frozenset[str] | None, int]]] = defaultdict(list)
    for q in quotas:
        key = (q.tenant, q.accelerator)
        out[key].append((q.sites, q.nominal_cards - usage[q.sites].get(key, 0)))
    return out


def governs(room: dict, tenant: str, model: str, site: str) -> bool:
    """Whether a quota of ``tenant`` holds for ``model`` at ``site``."""
    return any(sites is None or site in sites for sites, _ in room.get((tenant, model), ()))


def guaranteed_jobs(
    ready: Iterable[tuple[int, Any, int]], room: dict, models_of: Callable[[Any], list[str]]
) -> set[int]:
    """Of the waiting jobs ``(index, job, effective priority)``, those that on their own fit their
    tenant's unused nominal quota of a model they accept. Which of them the guarantee covers is
    left to the plan: which will find nodes is not known beforehand, and a gang too large for any
    one site must not hold the room a smaller job could use. Work the plan places beyond the room
    borrows, and cohort mates within theirs may reclaim it (solvers.preempt)."""
    left = {k: max(r for _, r in v) for k, v in room.items()}  # per (tenant, model): the most a group leaves
    return {
        i for i, job, _ in ready if any(left.get((job.tenant, m), 0) >= job.accelerators.count for m in models_of(job))
    }


def within_nominal(room: dict, tenant: str, model: str, site: str, cards: int) -> bool:
    """Whether ``cards`` more of ``model`` at ``site`` keep ``tenant`` within a nominal quota."""
    return any(cards <= left and (sites is None or site in sites) for sites, left in room.get((tenant, model), ()))


def governed(quotas: Iterable[Quota]) -> set[tuple[str, str]]:
    return {(q.tenant, q.accelerator) for q in quotas}


def quota_reason(row: QuotaRow, tenant: str, quotas: Iterable[Quota], used: dict[tuple[str, str], int]) -> str:
    """Why a job of ``tenant`` cannot have cards under ``row``, in plain words."""
    m = row.accelerator
    mine = next((q for q in quotas if q.tenant == tenant and q.accelerator == m and q.sites == row.sites), None)
    where = "" if row.sites is None else f" at {', '.join(sorted(row.sites))}"
    n = used.get((tenant, m), 0)
    if row.kind == "tenant" and mine is not None:
        borrowed = max(0, n - mine.nominal_cards)
        return (
            f"tenant {tenant} has used {n} of its {mine.nominal_cards} {m}{where} (borrowed {borrowed}, at most "
            f"{row.limit_cards - mine.nominal_cards}); it waits until its own work ends or the quota grows"
        )
    if row.kind == "cohort":
        total = sum(used.get(k, 0) for k in row.members)
        borrowed = max(0, n - mine.nominal_cards) if mine else 0
        return (
            f"tenant {tenant} has used {n} of its {mine.nominal_cards if mine else 0} {m} (borrowed {borrowed}); "
            f"its cohort {row.cohort} has used {total} of its {row.limit_cards}; it waits for the cohort's work to end"
        )
    return (
        f"tenant {tenant} has used {n} {m} (borrowed {max(0, n - (mine.nominal_cards if mine else 0))}); what is left "
        f"in cohort {row.cohort} is {row.tenant}'s guaranteed quota, which it does not lend"
    )
