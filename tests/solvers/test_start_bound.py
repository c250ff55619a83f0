"""The LP bound on what start times could save (solvers.start_bound), on instances whose optimum
is known by hand: the cheap hours go to one job when only one fits, a run of part of an hour is
charged for that part, room held by work with no slack is respected, and no room gives no bound."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.solvers.start_bound import Work, cost_bound

PRICE = np.array([[1.0, 1.0, 0.1, 0.1]])  # ¥/kWh in hours 0..3


def test_only_one_job_fits_the_cheap_hours():
    jobs = [Work(0, 4, 1.0, 0, 2, 2.0), Work(0, 4, 1.0, 0, 2, 2.0)]
    # one runs in hours 2–3 (¥0.2), the other in 0–1 (¥2.0): 4 cards hold one job at a time
    assert cost_bound(jobs, np.full((1, 4), 4.0), PRICE) == pytest.approx(2.2)
    # with room for both, both take the cheap hours
    assert cost_bound(jobs, np.full((1, 4), 8.0), PRICE) == pytest.approx(0.4)


def test_part_of_an_hour_is_charged_for_that_part():
    assert cost_bound([Work(0, 1, 2.0, 2, 2, 1.5)], np.full((1, 4), 1.0), PRICE) == pytest.approx(2.0 * 0.15)


def test_room_held_by_work_without_slack_counts():
    free = np.array([[4.0, 4.0, 0.0, 4.0]])  # hour 2 taken
    one = [Work(0, 4, 1.0, 0, 2, 2.0)]
    assert cost_bound(one, free, PRICE) == pytest.approx(2.0)  # hours 0–1: 1–2 and 2–3 need hour 2
    assert cost_bound(one * 2, free, PRICE) is None  # the second has nowhere to run
    assert cost_bound([], free, PRICE) == 0.0
