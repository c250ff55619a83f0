"""The time grid of start-time decisions: slots, what energy costs in each, and what is free.

Slots follow the clock: slot 0 runs from ``now`` to the next multiple of Δ after midnight, and
slot ``t ≥ 1`` covers ``[b + (t−1)Δ, b + tΔ)`` from that boundary ``b`` — so a job deferred to
the valley starts at 00:00, and the same schedule reads the same from one cycle to the next. A site's energy rate is
its zone's price plus carbon priced at ``carbon_cny_per_kg`` after the site's green share, hour by
hour from the problem's :class:`~.problem.Outlook` (the topology's tariff and series when none is
given); the cost of running ``kW`` from ``a`` to ``b`` hours after ``now`` is ``kW × (I(b) − I(a))``
with ``I`` the running integral of that rate, so a run is priced over the hours it covers.

Capacity in every slot is what is free now plus what running work gives back by the slot's start,
counting only work whose end is known (:func:`declared_ends`, or the simulator's own) and comes
within one slot of now (:func:`released_by`); all other running work keeps its cards, power and
bandwidth for the whole horizon (what the planner does not know to be free is not free). A
:class:`~.problem.PowerLimit` lowers the power of its sites in the slots its window touches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from suanwang.solvers.problem import Job, Problem, Release
from suanwang.topology.hourly import factors_for
from suanwang.topology.model import Topology, facility_kw


@dataclass
class Grid:
    """Slots of the horizon and, per site, the running integral of the energy rate by the hour."""

    now: datetime
    slot_h: float
    slots: int
    starts_h: np.ndarray  # hours from ``now`` to each slot's start (one more: the horizon's end)
    hour0: float  # hours from the outlook's first hour to ``now``
    cum_rate: dict[str, np.ndarray]  # site -> ∫ CNY per kWh (priced carbon included) from hour 0
    cum_price: dict[str, np.ndarray]  # site -> ∫ CNY per kWh of electricity alone
    cum_carbon: dict[str, np.ndarray]  # site -> ∫ kg CO₂ per kWh after the green share

    def slot_start(self, t: int) -> datetime:
        return self.now + timedelta(hours=float(self.starts_h[min(t, self.slots)]))

    def widths(self, run_h: float) -> np.ndarray:
        """Per start slot, how many slots a run of ``run_h`` hours from it touches (cut at the horizon)."""
        ext = np.concatenate(
            [self.starts_h, self.starts_h[-1] + self.slot_h * np.arange(1, int(run_h / self.slot_h) + 3)]
        )
        ends = np.searchsorted(ext, self.starts_h[:-1] + run_h - 1e-9, side="left")
        return np.minimum(np.maximum(1, ends - np.arange(self.slots)), self.slots - np.arange(self.slots))

    def slot_of(self, start: datetime) -> int:
        """The slot a start time belongs to."""
        h = (start - self.now).total_seconds() / 3600.0
        return int(max(0, min(self.slots - 1, np.searchsorted(self.starts_h, h + 1e-9, side="right") - 1)))

    def integral(self, cum: np.ndarray, a_h: np.ndarray | float, b_h: np.ndarray | float) -> np.ndarray:
        """∫ from ``a_h`` to ``b_h`` hours after ``now`` of an hourly series given by its prefix sums."""
        grid = np.arange(len(cum), dtype=float)
        return np.interp(np.asarray(b_h) + self.hour0, grid, cum) - np.interp(np.asarray(a_h) + self.hour0, grid, cum)

    def run_cost(self, site: str, kw: float, start_h, hours: float):
        """(CNY with carbon priced, CNY of electricity, kg CO₂) of ``kw`` over ``hours`` from ``start_h``."""
        end = np.asarray(start_h) + hours
        return (
            kw * self.integral(self.cum_rate[site], start_h, end),
            kw * self.integral(self.cum_price[site], start_h, end),
            kw * self.integral(self.cum_carbon[site], start_h, end),
        )


def released_by(releases, slot_starts: list[datetime], now: datetime | None = None, slot_h: float = 0.0) -> list[list]:
    """For each slot, the releases that happened by its start (capacity back for the whole slot).
    With ``now``, only those after it and within one slot (``slot_h``) of it count: a plan counts on
    the work ending before its next slot, not on every declared end up to the horizon, and not on
    work still holding its cards at or past its end (it gives them back when it is seen to). All of them promised
    the night to deferred work that the night's own arrivals then took; none (what is free at the
    plan's instant) made the room a plan sees depend on how often plans run, since frequent plans
    leave little free between them (``bench/README.md``, "When to run")."""
    if now is not None:
        until = now + timedelta(hours=slot_h)
        releases = [r for r in releases if now < r.at <= until]
    ordered = sorted(releases, key=lambda r: r.at)
    out, k = [], 0
    for t0 in slot_starts:
        while k < len(ordered) and ordered[k].at <= t0:
            k += 1
        out.append(ordered[:k])
    return out


def known_releases(problem: Problem) -> tuple:
    """The releases of ``problem``'s state at sites it knows to be usable: a site with no fresh
    state (or drained, or down) offers no cards now, and none when its work ends either."""
    state = problem.state
    if state is None:
        return ()
    gone = set(state.unusable)
    return tuple(r for r in state.releases if r.site not in gone)


def declared_ends(topology: Topology, jobs: Iterable[Job], now: datetime) -> tuple[Release, ...]:
    """What the running jobs among ``jobs`` give back at their declared end (start +
    ``duration_h``), for a caller that records when work started (the service). A job not yet
    started, or already past its declared end, gives nothing back: it holds its cards, power and
    bandwidth for the whole horizon. Nodes a job holds that are not known are named after it."""
    sites = {s.id: s for s in topology.sites}
    out = []
    for j in jobs:
        r = j.running
        if r is None or r.started_at is None or r.site not in sites:
            continue
        end = r.started_at + timedelta(hours=j.duration_h)
        if end <= now:
            continue
        a, acc = j.accelerators, topology.accelerators.get(r.accelerator)
        kw = facility_kw(a.count, acc, sites[r.site].pue) if acc else 0.0
        nodes = r.nodes or tuple(f"{j.id}#{k}" for k in range(a.nodes))
        out.append(Release(r.site, r.accelerator, end, a.per_node, nodes, kw))
    return tuple(out)


def slot_starts_h(now: datetime, slot_h: float, slots: int) -> np.ndarray:
    """Hours from ``now`` to the start of each slot, and to the horizon's end (``slots + 1`` values)."""
    since = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600.0
    first = (math.floor(since / slot_h + 1e-9) + 1) * slot_h - since  # (0, Δ]: what is left of slot 0
    return np.concatenate([[0.0], first + slot_h * np.arange(slots)])


def build_grid(problem: Problem, longest_h: float) -> Grid:
    """The slots of ``problem.shift`` and the hourly rates covering the horizon plus ``longest_h``."""
    shift = problem.shift
    assert shift is not None
    topo, now = problem.topology, problem.now
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    out = problem.outlook
    origin = out.start if out is not None else hour_start
    hour0 = (now - origin).total_seconds() / 3600.0
    need = int(math.ceil(hour0 + (shift.slots + 1) * shift.slot_h + longest_h)) + 2
    zp: dict[str, np.ndarray] = {}
    zc: dict[str, np.ndarray] = {}
    for zid, zone in topo.grid_zones.items():
        if out is not None and zid in out.price_cny_per_kwh and zid in out.carbon_kg_per_kwh:
            zp[zid] = _stretch(out.price_cny_per_kwh[zid], need)
            zc[zid] = _stretch(out.carbon_kg_per_kwh[zid], need)
        else:
            price, carbon = factors_for(zone, origin).hours_from(origin, need)
            zp[zid], zc[zid] = np.asarray(price, dtype=float), np.asarray(carbon, dtype=float)
    lam = problem.weights.carbon_cny_per_kg
    cum_rate, cum_price, cum_carbon = {}, {}, {}
    for s in topo.sites:
        carbon = zc[s.grid_zone] * (1.0 - s.green_share)
        cum_price[s.id] = _cum(zp[s.grid_zone])
        cum_carbon[s.id] = _cum(carbon)
        cum_rate[s.id] = _cum(zp[s.grid_zone] + lam * carbon)
    starts = slot_starts_h(now, shift.slot_h, shift.slots)
    return Grid(now, shift.slot_h, shift.slots, starts, hour0, cum_rate, cum_price, cum_carbon)


def _stretch(values: tuple[float, ...], n: int) -> np.ndarray:
    """``values`` to length ``n``: an outlook shorter than the run repeats its last day."""
    a = np.asarray(values, dtype=float)
    if len(a) >= n:
        return a[:n]
    day = a[-24:] if len(a) >= 24 else a
    reps = int(math.ceil((n - len(a)) / max(1, len(day))))
    return np.concatenate([a, np.tile(day, reps)])[:n]


def _cum(hourly: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(hourly)])
