"""Placement and planning solvers: pure functions ``problem -> result``.

Will hold the CP-SAT placement model, the LP relaxation bound, PuLP capacity planning and the
baseline policies (greedy first-fit, best-fit, Karmada-like). No I/O, no printing, no mutation
of inputs; depends only on :mod:`topology`.
"""
