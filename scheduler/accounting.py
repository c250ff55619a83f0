"""Carbon accounts: energy (kWh), carbon (kg; location-based at the zone's intensity, and
market-based after the site's green share) and cost (¥ at the zone's price) of what actually ran,
accrued hour by hour per tenant and site, with the actual series (never a forecast).

A zone whose topology names a ``carbon_measured`` file accrues each hour the file holds at its
measured figure. An hour accrued before its figure arrived (at the series, the 24-hour profile or
the annual factor: an estimate), or at a figure the grid has since revised, is settled once the
fresh file holds it: its carbon becomes its energy × the measured intensity, the market-based
figure keeping the share it had. Each row says the intensity it is settled at (``None`` while an
estimate), and the answers count the energy whose carbon is settled.

A job draws its cards' board power at the site's PUE while it runs (the planning figure of
:func:`~suanwang.topology.model.facility_kw`; a metered per-job draw would replace it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from suanwang.scheduler.db import accounts as db
from suanwang.topology.model import Topology, facility_kw


def basis(topology: Topology) -> dict[str, object]:
    """How the figures are made: the energy, and each zone's intensity and price (file names, not
    the server's paths)."""
    zones: dict[str, dict[str, str]] = {}
    for zid, z in topology.grid_zones.items():
        if z.carbon_series is not None:
            carbon = f"hourly series {Path(z.carbon_series[0]).name} ({z.carbon_series[1]}), by hour of the year"
        elif z.carbon_year_kg_per_kwh:
            carbon = "hourly year series, by hour of the year"
        elif z.carbon_hourly_kg_per_kwh:
            carbon = "24 hourly values, the same every day"
        else:
            carbon = f"annual factor {z.carbon_kg_per_kwh:g} kg CO₂/kWh"
        if z.carbon_measured is not None:
            carbon = (
                f"measured hours of {Path(z.carbon_measured.path).name} while it is fresh, else the {carbon}; "
                "hours accrued before their measured figure are settled at it once it arrives"
            )
        price = "hourly price series" if z.price_year_cny_per_kwh else "time-of-use tariff"
        zones[zid] = {"carbon": carbon, "price": price}
    energy = "the cards' board power × the site's PUE while jobs run (the planning figure; no metered draw)"
    return {"energy": energy, "market": "location-based × (1 − the site's green share)", "zones": zones}


@dataclass(frozen=True)
class Accrued:
    """What one accrual added, per (tenant, site): kWh, kg location-based, kg market-based, ¥; and
    what settling changed, per (tenant, site): kg location-based, kg market-based (either sign)."""

    since: datetime | None
    until: datetime
    by: dict[tuple[str, str], tuple[float, float, float, float]]
    revised: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)


def accrue(
    s: Session, topology: Topology, until: datetime, measured: Mapping[str, Mapping[datetime, float]] | None = None
) -> Accrued:
    """In the caller's (fenced) transaction: add what ran from the cursor to ``until``, then settle
    the hours ``measured`` holds (zone → hour start → kg CO₂/kWh: the fresh measured files; the
    zones of ``topology`` already take them in place of their series)."""
    measured = {z: hours for z, hours in (measured or {}).items() if hours}
    since = db.cursor(s)
    if since is None or until <= since:
        if since is None:
            db.set_cursor(s, until)  # the accounts start now: what ran before is not known hour by hour
        return Accrued(since, until, {}, settle(s, topology, measured))
    sites = {x.id: x for x in topology.sites}
    by: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for span in db.running_spans(s, since, until):
        site = sites.get(span.site)
        acc = topology.accelerators.get(span.accelerator)
        if site is None or acc is None:
            continue  # a site or model no longer in the topology: nothing to price it by
        zone = topology.grid_zones[site.grid_zone]
        kw = facility_kw(span.cards, acc, site.pue)
        hours = measured.get(site.grid_zone, {})
        for hour, seconds in db.hours_of(span.start, span.end):
            kwh = kw * seconds / 3600.0
            loc = kwh * zone.carbon_at(hour)
            mkt = loc * (1.0 - site.green_share)
            cny = kwh * zone.price_at(hour)
            db.add(s, hour, span.tenant, span.site, (kwh, loc, mkt, cny), hours.get(hour))
            acc_row = by[(span.tenant, span.site)]
            acc_row[0] += kwh
            acc_row[1] += loc
            acc_row[2] += mkt
            acc_row[3] += cny
    db.set_cursor(s, until)
    s.flush()  # the settling below reads these rows back
    by_pair = {k: (v[0], v[1], v[2], v[3]) for k, v in by.items()}
    return Accrued(since, until, by_pair, settle(s, topology, measured))


def settle(
    s: Session, topology: Topology, measured: Mapping[str, Mapping[datetime, float]]
) -> dict[tuple[str, str], tuple[float, float]]:
    """Settle every row of an hour ``measured`` holds that is not yet at its figure; the change in
    kg location- and market-based per (tenant, site)."""
    revised: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    green = {x.id: x.green_share for x in topology.sites}
    for zid, hours in measured.items():
        sites = [x.id for x in topology.sites if x.grid_zone == zid]
        if not sites or not hours:
            continue
        held = db.settled_at(s, sites, min(hours), max(hours))
        due = sorted(h for h, values in held.items() if h in hours and values != {hours[h]})
        for row in db.rows_at(s, sites, due) if due else ():
            v = hours[row.hour]
            if row.carbon_kg_per_kwh == v:  # as the grouped query compares: exactly
                continue
            loc = row.energy_kwh * v
            share = row.carbon_market_kg / row.carbon_location_kg if row.carbon_location_kg > 0 else None
            if share is None:  # nothing to scale by: the site's green share as the accrual takes it
                share = 1.0 - green[row.site]
            mkt = loc * share
            change = revised[(row.tenant, row.site)]
            change[0] += loc - row.carbon_location_kg
            change[1] += mkt - row.carbon_market_kg
            row.carbon_location_kg, row.carbon_market_kg, row.carbon_kg_per_kwh = loc, mkt, v
    return {k: (v[0], v[1]) for k, v in revised.items()}
