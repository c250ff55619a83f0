"""The openb replay with a best-fit node policy against the FGD paper's published best-fit results."""

from __future__ import annotations

import numpy as np

from suanwang.simulations.openb import load_nodes, load_pods, published, replay_best_fit
from tests.conftest import SHARED_DATA

OPENB = SHARED_DATA / "openb-fgd"


def test_best_fit_replay_matches_published_curve():
    nodes = load_nodes(OPENB / "csv" / "openb_node_list_all_node.csv")
    pods = load_pods(OPENB / "csv" / "openb_pod_list_default.csv")
    assert nodes.total_gpus == 6212 and len(pods) == 8152
    ours = np.array(replay_best_fit(nodes, pods, seed=42))
    mean, lo, hi = published(OPENB / "expected_results" / "analysis_allo_discrete.csv")
    assert len(ours) == 131 and np.all(np.diff(ours) >= -1e-9)  # nothing leaves: allocation never drops
    assert np.abs(ours[:90] - mean[:90]).max() < 0.5  # below saturation every arriving pod fits, as published
    assert np.abs(ours - mean).mean() < 1.0  # whole curve within a point on average
    assert abs(ours[130] - mean[130]) < 2.0
    random, _, _ = published(OPENB / "expected_results" / "analysis_allo_discrete.csv", policy="01-Random")
    assert ours[130] > random[130]  # best fit beats random placement, as in the paper
