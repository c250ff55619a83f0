"""The openb replay: the best-fit node policy against the FGD paper's published best-fit results,
the fragmentation-aware policy against best fit, and the fragmentation measure on small nodes."""

from __future__ import annotations

import numpy as np

from suanwang.simulations.fragmentation import fragmentation, typical_shapes
from suanwang.simulations.openb import load_nodes, load_pods, published, replay, replay_best_fit
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


def test_fragmentation_aware_policy_allocates_more_than_best_fit():
    nodes = load_nodes(OPENB / "csv" / "openb_node_list_all_node.csv")
    pods = load_pods(OPENB / "csv" / "openb_pod_list_default.csv")
    best = np.array(replay(nodes, pods, "bestfit", seed=44))  # a seed the policy was not tuned on
    fgd = np.array(replay(nodes, pods, "fgd", seed=44))
    assert np.abs(fgd[:90] - best[:90]).max() < 0.1  # below saturation both place every pod
    assert np.all(fgd[95:] > best[95:] + 0.5)  # past saturation it strands fewer GPUs


def test_fragmentation_counts_what_typical_pods_cannot_use():
    models = np.array(["A10", "A10"])
    pods = [(4000, 2048, 1, 500, frozenset()), (4000, 2048, 1, 1000, frozenset())]  # half a GPU; a whole one
    shapes = typical_shapes(pods, models, share=1.0)
    gpu = np.array([[1000, 1000], [300, 1000]])
    cpu, mem = np.array([8000, 8000]), np.array([16384, 16384])
    frag = fragmentation(cpu, mem, gpu, np.arange(2), shapes)
    # node 0: both shapes fit, nothing stranded; node 1: its 300 are too little for either shape
    assert frag.tolist() == [0.0, 300.0]
    starved = fragmentation(np.array([1000, 1000]), mem, gpu, np.arange(2), shapes)  # too little CPU for any
    assert starved.tolist() == [2000.0, 1300.0]
    no_room = fragmentation(cpu, np.array([16384, 1024]), gpu, np.arange(2), shapes)  # node 1: too little memory
    assert no_room.tolist() == [0.0, 1300.0]
