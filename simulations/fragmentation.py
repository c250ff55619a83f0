"""Fragmentation-aware node choice for the openb replay, after the FGD paper (Weng et al., USENIX
ATC 2023, "Beware of Fragmentation", §4).

Typical pods: the pod shapes (CPU, memory, GPUs, milli-GPU per GPU, accepted models) that make up
the most common ``share`` of the workload, each with its frequency p_m (renormalised to sum to 1).

Fragmentation of node n for shape m, F_n(m), in milli-GPU:
    all of n's free GPU   if m asks no GPU, or n's model is not one m accepts, or n cannot host m
                          (too little CPU or memory, or fewer than m's GPUs with m's milli-GPU free)
    Σ free on n's GPUs with less free than m asks per GPU          otherwise
Expected fragmentation of n: F_n = Σ_m p_m · F_n(m).

Choice: among the nodes that fit the pod (and, for a GPU share, among that node's GPUs that fit
it), the highest node score ⌊100 · σ(−ΔF_n / s)⌋ — the change in F_n that the placement makes,
squashed to the 0–100 scale of a Kubernetes score plugin as the paper's scheduler does — and
among equal scores the node left with the fewest free GPU milli-units, then CPU (best fit). The
squashing matters: it keeps small changes apart and lets best fit decide among the options that
all cut fragmentation by several GPUs. Memory counts as CPU does: the paper's scheduler looks at
CPU alone, but a node whose memory no longer holds a pod strands its GPUs for that pod just as
well. ``s`` (2,000 milli-GPU), the typical share (99 %) and counting memory were chosen on seeds
42 and 43 of the default openb workload (the paper's scheduler uses s = 1,000 and 95 %).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

TYPICAL_SHARE = 0.99  # typical pods: the shapes that make up 99 % of the workload
SCORE_SCALE_MILLI = 2000.0  # s in the node score ⌊100 · σ(−ΔF / s)⌋
# odd 64-bit multipliers that fold a node state (model, CPU, GPUs) into one integer to find repeats
_MIX = np.random.default_rng(20230711).integers(1, 2**62, size=64, dtype=np.int64) | 1


@dataclass(frozen=True)
class Shapes:
    """The typical pods: per shape its CPU, GPU count, milli-GPU per GPU, frequency and the nodes
    whose model it accepts."""

    cpu: np.ndarray  # (M,) milli-CPU
    mem: np.ndarray  # (M,) MiB
    gpus: np.ndarray  # (M,) GPUs asked (1 for a share)
    milli: np.ndarray  # (M,) milli-GPU per GPU (0: no GPU)
    p: np.ndarray  # (M,) frequency, sums to 1
    access: np.ndarray  # (M, N) node's model accepted
    model_id: np.ndarray  # (N,) nodes with the same id have the same access column


def typical_shapes(pods, models: np.ndarray, share: float = TYPICAL_SHARE) -> Shapes:
    """The most common pod shapes covering ``share`` of ``pods`` (as :func:`.openb.load_pods` gives)."""
    counts = Counter((c, mib, n, g if n else 0, spec) for c, mib, n, g, spec in pods)
    keep: list[tuple[tuple, int]] = []
    covered = 0
    for shape, k in counts.most_common():
        if covered >= share * len(pods):
            break
        keep.append((shape, k))
        covered += k
    masks = {spec: np.isin(models, list(spec)) if spec else np.ones(len(models), dtype=bool) for (*_, spec), _ in keep}
    return Shapes(
        np.array([s[0] for s, _ in keep], dtype=np.int64),
        np.array([s[1] for s, _ in keep], dtype=np.int64),
        np.array([max(1, s[2]) for s, _ in keep], dtype=np.int64),
        np.array([s[3] for s, _ in keep], dtype=np.int64),
        np.array([k for _, k in keep], dtype=float) / covered,
        np.array([masks[s[4]] for s, _ in keep]),
        np.unique(models, return_inverse=True)[1].ravel(),
    )


def fragmentation(cpu: np.ndarray, mem: np.ndarray, gpu: np.ndarray, nodes: np.ndarray, shapes: Shapes) -> np.ndarray:
    """Expected fragmentation F_n (milli-GPU) of node states ``cpu`` (K,), ``mem`` (K,) and ``gpu``
    (K, G; absent GPUs −1), which are states of the nodes ``nodes`` (K,) of the cluster."""
    free = np.maximum(gpu, 0)
    total = free.sum(axis=1)  # (K,)
    too_small = gpu[None, :, :] < shapes.milli[:, None, None]  # (M, K, G): GPU cannot serve shape m
    enough = (~too_small & (gpu[None, :, :] >= 0)).sum(axis=2) >= shapes.gpus[:, None]
    host = enough & (cpu[None, :] >= shapes.cpu[:, None]) & (mem[None, :] >= shapes.mem[:, None])
    host &= shapes.access[:, nodes] & (shapes.milli[:, None] > 0)
    partial = (too_small * free[None, :, :]).sum(axis=2)  # (M, K)
    per_shape = np.where(host, partial, total[None, :])
    return shapes.p @ per_shape


def least_fragmenting(
    state: tuple[np.ndarray, np.ndarray, np.ndarray],
    idx: np.ndarray,
    pod: tuple[int, int, int, int],
    shapes: Shapes,
    frag_now: np.ndarray,
) -> tuple[int, int]:
    """The node among ``idx`` (all of which fit) and, for a GPU share, the GPU column whose choice
    for a pod of ``c`` milli-CPU, ``m`` MiB and ``n`` × ``g`` milli-GPU (``pod``) adds the least
    fragmentation; ``state`` is every node's free CPU, memory and GPUs."""
    cpu, mem, gpu = state
    c, m, n, g = pod
    after_gpu = gpu[idx].copy()
    node_of = idx
    cols = np.full(len(idx), -1)
    if n and g >= 1000:  # whole GPUs: the first n fully free ones
        full = after_gpu >= 1000
        after_gpu -= 1000 * (full & (np.cumsum(full, axis=1) <= n))
    elif n:  # a share: every GPU of every node that fits it is an option
        rows, slots = np.nonzero(after_gpu >= g)
        node_of, cols = idx[rows], slots
        after_gpu = after_gpu[rows]
        after_gpu[np.arange(len(rows)), slots] -= g
    after_cpu, after_mem = cpu[node_of] - c, mem[node_of] - m
    # many options leave the same state (same model, CPU, memory and GPUs): measure each state once
    state = np.column_stack([shapes.model_id[node_of], after_cpu, after_mem, after_gpu])
    _, first, inverse = np.unique(state @ _MIX[: state.shape[1]], return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not np.array_equal(state, state[first][inverse]):  # two states folded alike: measure each option
        first, inverse = np.arange(len(state)), np.arange(len(state))
    frag = fragmentation(after_cpu[first], after_mem[first], after_gpu[first], node_of[first], shapes)
    delta = frag[inverse] - frag_now[node_of]
    left = np.maximum(after_gpu, 0).sum(axis=1)
    score = np.floor(100.0 / (1.0 + np.exp(np.clip(delta / SCORE_SCALE_MILLI, -50.0, 50.0))))
    best = np.lexsort((after_cpu, left, -score))[0]
    return int(node_of[best]), int(cols[best])
