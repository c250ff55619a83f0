"""Building large acyclic structures without the cyclic garbage collector's passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a large acyclic structure is built: its passes over
    the growing heap cost more than the build itself (reading a 100,000-job file: 5.6 s → 3.4 s;
    planning it: 25.4 s → 22.1 s)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def freeze_startup_heap() -> int:
    """Move every object alive now (modules, the topology, its route tables) out of the cyclic
    collector's reach. A long-running service keeps them until it exits, and each full pass over
    them stalled whatever request allocated at that moment (≈ 80 ms in the API). Returns how many
    objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
