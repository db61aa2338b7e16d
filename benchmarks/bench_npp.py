"""NPP against the best linear map: top-10 accuracy margins at 2x, 4x and 8x compression.

Baseline ("best linear", issue 14): the best of centred PCA, uncentred PCA and RAE's closed
form over its shrinkage grid, **chosen on the training split only** (the candidate with the best
top-10 accuracy of training rows queried against the training rows, see
:func:`rae_explore.reducers.npp.best_linear_map`), then measured on the held-out queries. NPP
starts from that same map, so the margin is what the fine-tuning adds.

Data: sift5k (128-d, l2: 64, 32, 16 dimensions) and minilm-wordnet (384-d, cosine: 192, 96,
48 dimensions), split seeds 0, 1, 2 (90 % base = training rows, 10 % queries); NPP with its
defaults and ``random_state`` = the split seed. Each row: the mean margin over the seeds in
points of top-10 accuracy (target >= +5.0 at 4x), the per-seed margins and the mean fit time in
the note. ``--quick``: sift5k at 4x, one seed.

Fit times depend on the machine's load: each row gives the mean wall and CPU (process) seconds of
the fits and the 1-minute load average when the row ended; read them with that load.
"""

import os
import statistics
import time

import numpy as np

SETS = (("sift5k", 128), ("minilm-wordnet", 384))
RATIOS = (2, 4, 8)
SEEDS = (0, 1, 2)


def margin_row(dataset, m, seed, **params):
    """One run: (best linear top-10, NPP top-10, NPP fit wall seconds, start name, fit CPU seconds, kept step)."""
    from rae_explore.data.datasets import load_dataset
    from rae_explore.neighbors.knn import knn_search
    from rae_explore.neighbors.metrics import top_k_accuracy
    from rae_explore.reducers.npp import NPP, linear_candidates
    from rae_explore.vectors import for_metric

    ds = load_dataset(dataset, seed=seed)
    metric = ds.metric
    xb = for_metric(np.array(ds.xb, np.float32), metric, "xb")
    xq = for_metric(np.array(ds.xq, np.float32), metric, "xq")
    gt = knn_search(xq, xb, 10, metric)[1]
    t0, c0 = time.perf_counter(), time.process_time()
    npp = NPP(m, random_state=seed, **params).fit(xb)
    fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    acc_npp = top_k_accuracy(gt, knn_search(npp.transform(xq), npp.transform(xb), 10, metric)[1], 10)
    W, b = linear_candidates(xb, m)[npp.init_]  # the map NPP chose on the training rows, and started from
    W, b = W.astype(np.float32), b.astype(np.float32)
    acc_lin = top_k_accuracy(gt, knn_search(xq @ W.T + b, xb @ W.T + b, 10, metric)[1], 10)
    return acc_lin, acc_npp, fit_s, npp.init_, cpu_s, npp.best_step_


def run(quick=False):
    rows = []
    grid = [("sift5k", 128, 4)] if quick else [(s, d, r) for s, d in SETS for r in RATIOS]
    seeds = SEEDS[:1] if quick else SEEDS
    for dataset, d, ratio in grid:
        m = d // ratio
        res = [margin_row(dataset, m, seed) for seed in seeds]
        margins = [100 * (r[1] - r[0]) for r in res]
        lin = statistics.mean(r[0] for r in res)
        rows.append({
            "name": f"{dataset} {d}->{m} ({ratio}x) top-10 margin",
            "value": statistics.mean(margins), "unit": "points",
            # baseline: the best linear map's top-10 in points (percent), ratio: npp's top-10 over it
            "baseline": 100 * lin, "ratio": statistics.mean(r[1] for r in res) / lin, "target": ">= +5.0 points at 4x",
            "note": (f"best linear {lin:.4f} -> npp {statistics.mean(r[1] for r in res):.4f}; per seed "
                     + ", ".join(f"{x:+.2f}" for x in margins)
                     + f"; starts {sorted({r[3] for r in res})}; kept steps {[r[5] for r in res]}; fit {statistics.mean(r[2] for r in res):.1f} s wall, "
                     f"{statistics.mean(r[4] for r in res):.1f} s CPU; load average {os.getloadavg()[0]:.1f}"),
        })
    return rows
