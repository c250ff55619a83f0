"""The domain of the compute network: accelerators, cities, sites, links, the graph and its queries.

Imports nothing of Kubernetes, FastAPI, Prometheus or HTTP clients.
"""

from suanwang.errors import Fault, InfeasibleError, InputError, PermanentError, SuanwangError, TemporaryError
from suanwang.topology.graph import NetworkGraph, Route
from suanwang.topology.loader import BUILTIN, builtin_path, load_topology
from suanwang.topology.model import Accelerator, City, GridZone, Link, Pool, Site, Tariff, Topology
from suanwang.topology.totals import Totals, province_totals, site_totals, totals_by

__all__ = [
    "BUILTIN",
    "Accelerator",
    "City",
    "Fault",
    "GridZone",
    "InfeasibleError",
    "InputError",
    "Link",
    "NetworkGraph",
    "PermanentError",
    "Pool",
    "Route",
    "Site",
    "SuanwangError",
    "Tariff",
    "TemporaryError",
    "Topology",
    "Totals",
    "builtin_path",
    "load_topology",
    "province_totals",
    "site_totals",
    "totals_by",
]
