"""Carbon accounts: energy (kWh), carbon (kg; location-based at the zone's intensity, and
market-based after the site's green share) and cost (¥ at the zone's price) of what actually ran,
accrued hour by hour per tenant and site, with the actual series (never a forecast).

A job draws its cards' board power at the site's PUE while it runs (the planning figure of
:func:`~suanwang.topology.model.facility_kw`; a metered per-job draw would replace it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
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
            carbon = f"measured hours of {Path(z.carbon_measured.path).name} while it is fresh, else the {carbon}"
        price = "hourly price series" if z.price_year_cny_per_kwh else "time-of-use tariff"
        zones[zid] = {"carbon": carbon, "price": price}
    energy = "the cards' board power × the site's PUE while jobs run (the planning figure; no metered draw)"
    return {"energy": energy, "market": "location-based × (1 − the site's green share)", "zones": zones}


@dataclass(frozen=True)
class Accrued:
    """What one accrual added, per (tenant, site): kWh, kg location-based, kg market-based, ¥."""

    since: datetime | None
    until: datetime
    by: dict[tuple[str, str], tuple[float, float, float, float]]


def accrue(s: Session, topology: Topology, until: datetime) -> Accrued:
    """In the caller's (fenced) transaction: add what ran from the cursor to ``until``."""
    since = db.cursor(s)
    if since is None or until <= since:
        if since is None:
            db.set_cursor(s, until)  # the accounts start now: what ran before is not known hour by hour
        return Accrued(since, until, {})
    sites = {x.id: x for x in topology.sites}
    by: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for span in db.running_spans(s, since, until):
        site = sites.get(span.site)
        acc = topology.accelerators.get(span.accelerator)
        if site is None or acc is None:
            continue  # a site or model no longer in the topology: nothing to price it by
        zone = topology.grid_zones[site.grid_zone]
        kw = facility_kw(span.cards, acc, site.pue)
        for hour, seconds in db.hours_of(span.start, span.end):
            kwh = kw * seconds / 3600.0
            loc = kwh * zone.carbon_at(hour)
            mkt = loc * (1.0 - site.green_share)
            cny = kwh * zone.price_at(hour)
            db.add(s, hour, span.tenant, span.site, kwh, loc, mkt, cny)
            acc_row = by[(span.tenant, span.site)]
            acc_row[0] += kwh
            acc_row[1] += loc
            acc_row[2] += mkt
            acc_row[3] += cny
    db.set_cursor(s, until)
    return Accrued(since, until, {k: (v[0], v[1], v[2], v[3]) for k, v in by.items()})
