"""suanwang (算网): scheduler and capacity planner for a province-wide network of compute centres.

The one import name of the distribution. Its layers are subpackages, innermost first:
:mod:`suanwang.topology` (the domain), :mod:`suanwang.solvers` (pure solvers),
:mod:`suanwang.collectors` (live feeds), :mod:`suanwang.scheduler` (jobs, lifecycle, Kubernetes,
service, CLI) and :mod:`suanwang.simulations` (the what-if engine). What is product-wide lives
here: the error hierarchy (:mod:`suanwang.errors`), local time (:mod:`suanwang.timeutil`) and YAML
documents with positions (:mod:`suanwang.yamldoc`).
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("suanwang")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
