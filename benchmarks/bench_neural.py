"""The four autoencoders of the compression paper: fit time, top-10 accuracy, peak memory, transform speed.

Issue 12's budget, with the default settings of every reducer (``device="cpu"`` here, one torch
thread, as the reducers use on the CPU):

- fit time on ``sift5k`` (4,500 x 128 -> 32) and ``minilm-wordnet`` (9,000 x 384 -> 96, cosine:
  unit vectors): each method <= 30 s on 2 cores; top-10 accuracy (exact k-NN of 500 / 1,000
  queries, original space vs codes) next to PCA's;
- 100,000 x 128 -> 32, a generated set (:func:`rae_explore.data.synthetic`, 16-d subspace plus
  noise): each method <= 5 min and <= 2 GB peak RSS;
- transform throughput on the CPU (rows per second over the base) against PCA's: the ratio.

Every (dataset, method) runs in a fresh Python process (``python -c``), so that its peak RSS
(``ru_maxrss``, imports included: torch alone is about 0.4 GB) is its own and the fit time
excludes the imports (warmed up before the clock starts). Rows: ``value`` is the fit time, with
the budget (30 s, 300 s) as ``baseline`` (ratio <= 1 meets it); the note carries top-10 against
PCA's, peak RSS, the transform throughput ratio, the fit's CPU time (user + system of the
process: on a shared machine it approximates what the wall time would be on idle cores, since
the reducers train with one torch thread) and the 1-minute load average when the fit ended.
``quick=True``: sift5k only, and 10,000 generated rows.

Last, one row per dataset checks the compression paper's claims as far as top-10 against PCA
can (the index-level claims are notebook 05's): does any autoencoder beat PCA, which
autoencoder does best (the paper: HyperAE most often), and does NRAE beat the Vanilla AE (the
paper: NRAE brings nothing).
"""

import json
import os
import subprocess
import sys

_CHILD = r"""
import json, os, resource, sys, time
import numpy as np
import torch  # noqa: F401  (imported before the clock starts)
from rae_explore.data.datasets import load_dataset
from rae_explore.data.synthetic import synthetic
from rae_explore.neighbors.knn import knn_search
from rae_explore.neighbors.metrics import top_k_accuracy
from rae_explore.reducers import make_reducer
from rae_explore.vectors import for_metric

name, method, m = sys.argv[1], sys.argv[2], int(sys.argv[3])
if name.startswith("generated-"):
    n = int(name.split("-")[1])
    ds = synthetic(d=128, nb=n, nq=1000, intrinsic_dim=16, seed=0, noise=0.05)
else:
    ds = load_dataset(name, seed=0)
xb, xq = for_metric(ds.xb, ds.metric), for_metric(ds.xq, ds.metric)
params = {"device": "cpu"} if method != "pca" else {}
red = make_reducer(method, n_components=m, random_state=0, **params)
t0, c0 = time.perf_counter(), time.process_time()
red.fit(xb)
fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
load = os.getloadavg()[0]
t0 = time.perf_counter()
Zb = red.transform(xb)
transform_s = time.perf_counter() - t0
gt = knn_search(xq, xb, 10)[1]
I = knn_search(red.transform(xq), Zb, 10)[1]
hist = getattr(red, "history_", [])
print(json.dumps({"fit_s": fit_s, "cpu_s": cpu_s, "load": load, "transform_s": transform_s, "n": len(xb), "top10": top_k_accuracy(gt, I, 10),
                  "epochs": len(hist), "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

METHODS = ("pca", "vanilla_ae", "dcec", "hyperae", "nrae")


def _measure(name, method, m):
    out = subprocess.run([sys.executable, "-c", _CHILD, name, method, str(m)], capture_output=True, text=True,
                         check=False, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{name}/{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick=False):
    cases = [("sift5k", 32, 30.0)]
    if not quick:
        cases.append(("minilm-wordnet", 96, 30.0))
    cases.append(("generated-10000" if quick else "generated-100000", 32, 300.0))
    rows = []
    for name, m, budget in cases:
        res = {method: _measure(name, method, m) for method in METHODS}
        pca = res["pca"]
        for method in METHODS[1:]:
            r = res[method]
            ratio_tp = (r["n"] / r["transform_s"]) / (pca["n"] / pca["transform_s"])
            note = (f"top-10 {r['top10']:.4f} (PCA {pca['top10']:.4f}, {100 * (r['top10'] - pca['top10']):+.1f} pt); "
                    f"{r['epochs']} epochs; peak RSS {r['rss_gb']:.2f} GB (PCA process {pca['rss_gb']:.2f} GB); "
                    f"transform {r['n'] / r['transform_s']:,.0f} rows/s = {ratio_tp:.3g}x PCA's "
                    f"({pca['n'] / pca['transform_s']:,.0f} rows/s); PCA fit {pca['fit_s']:.2f} s; "
                    f"fit CPU {r['cpu_s']:.1f} s; load {r['load']:.1f} on {os.cpu_count()} cores")
            rows.append({"name": f"[{name} -> {m}] {method} fit", "value": r["fit_s"], "unit": "s",
                         "baseline": budget, "ratio": r["fit_s"] / budget,
                         "target": f"<= 1x ({budget:.0f} s)" + (", <= 2 GB" if budget > 30 else ""),
                         "note": note, "top_k@10": r["top10"], "pca_top_k@10": pca["top10"], "rss_gb": r["rss_gb"],
                         "cpu_s": r["cpu_s"], "load": r["load"],
                         "transform_ratio_vs_pca": ratio_tp,
                         "meets_target": bool(r["fit_s"] <= budget and (budget <= 30 or r["rss_gb"] <= 2.0))})
        rows.append(claims_row(name, m, res))
    return rows


def claims_row(name, m, res):
    """The paper's three claims on one dataset, at the level of top-10 against PCA (``res``: method -> measurement)."""
    aes = {k: v["top10"] for k, v in res.items() if k != "pca"}
    best = max(aes, key=aes.get)
    beats_pca = sorted(k for k, v in aes.items() if v > res["pca"]["top10"])
    note = (f"autoencoders beating PCA's top-10 ({res['pca']['top10']:.4f}): {', '.join(beats_pca) or 'none'}; "
            f"best autoencoder: {best} ({aes[best]:.4f}); NRAE {aes['nrae']:.4f} vs Vanilla AE {aes['vanilla_ae']:.4f}"
            f" ({'NRAE better' if aes['nrae'] > aes['vanilla_ae'] else 'NRAE brings nothing'})")
    return {"name": f"[{name} -> {m}] paper claims", "value": aes[best], "unit": "top-10", "baseline": None,
            "ratio": None, "note": note, "best_autoencoder": best, "autoencoders_beating_pca": beats_pca,
            "nrae_beats_vanilla": bool(aes["nrae"] > aes["vanilla_ae"])}


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        ratio = "" if row["ratio"] is None else f"  ratio {row['ratio']:.2f}"
        print(f"{row['name']:<45} {row['value']:.4g} {row['unit']}{ratio}  {row['note']}", flush=True)
