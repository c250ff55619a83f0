"""HiGHS in one process: a process that makes HiGHS solvers (directly, and through PuLP as the
capacity planner does) writes only its own output on stdout, so `-o json` stays JSON; and a
capacity MILP still solves after the start-time model's LPs ran in the same process (HiGHS keeps
one task scheduler per process, with the thread count of the first solve)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import pulp
from suanwang.highs import quiet_highs
h = quiet_highs()
h.run()
p = pulp.LpProblem("x", pulp.LpMaximize)
x = pulp.LpVariable("x", 0, 1)
p += x
p.solve(pulp.HiGHS(msg=False))
print("only this", pulp.value(x))
"""


def test_no_banner_on_stdout_from_any_highs_solver():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "only this 1.0\n"


def test_without_it_the_banner_would_reach_stdout():
    """The check above could fail: a solver made the plain way prints HiGHS's banner."""
    plain = "import highspy\nhighspy.Highs()\nprint('mine')\n"
    out = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True, timeout=60, check=True)
    assert "HiGHS" in out.stdout and out.stdout.endswith("mine\n")


LP_THEN_MILP = """
import sys
import highspy, numpy as np, pulp
from suanwang.highs import quiet_highs
h = quiet_highs() if sys.argv[1] == "quiet" else highspy.Highs()
h.setOptionValue("output_flag", False)
none = np.zeros(0, dtype=np.int32)
h.addCols(2, np.ones(2), np.zeros(2), np.ones(2), 0, np.zeros(2, dtype=np.int32), none, np.zeros(0))
h.changeObjectiveSense(highspy.ObjSense.kMaximize)
h.run()
p = pulp.LpProblem("x", pulp.LpMaximize)
x = pulp.LpVariable("x", 0, 3, cat="Integer")
p += x
p += x <= 2.5
p.solve(pulp.HiGHS(msg=False, threads=1))
print(pulp.LpStatus[p.status], pulp.value(x))
"""


@pytest.mark.parametrize(("how", "expect"), [("quiet", "Optimal 2.0"), ("plain", "Not Solved")])
def test_a_milp_solves_after_an_lp_in_the_same_process(how, expect):
    """With the product's solvers it does; with HiGHS's default thread count first, it would not."""
    cmd = [sys.executable, "-c", LP_THEN_MILP, how]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1].startswith(expect)
