"""The grid-event contract, shared by ``POST /v1/grid-events``, ``suanwang grid-event create -f``
and ``/openapi.json``::

    id: nj-peak-0716          # letters, digits, '.', '_' and '-', at most 63
    sites: [nj-hub]           # or zone: jiangsu (every site in it)
    start: 2026-07-16T10:00:00+08:00
    end: 2026-07-16T12:00:00+08:00
    reduce_ratio: 0.3         # or reduce_kw: 500 (of the draw when first seen), or cap_kw: 1200

Windows are at most 7 days long, end after they start and (posted to a server) end after now and
start within a year; caps and reductions are finite, in
kW, up to 100 GW; a ratio is in (0, 1].
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import model_validator

from suanwang.contract import Name, Time, fault
from suanwang.topology.contract import GridCap

MAX_WINDOW = timedelta(days=7)


class GridEventSpec(GridCap):
    """A grid event: the draw of the sites (or the zone's sites) stays at or below a cap in a window."""

    id: Name
    start: Time
    end: Time

    @model_validator(mode="after")
    def _window(self) -> GridEventSpec:
        if self.end <= self.start:
            raise fault("end is not after start", "give an end after the start")
        if self.end - self.start > MAX_WINDOW:
            raise fault("the window is longer than 7 days", "split it into events of at most 7 days")
        return self
