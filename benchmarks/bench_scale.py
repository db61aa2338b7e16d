"""Scale: ``evaluate`` of PCA and closed-form RAE over a memory-mapped 1M (and 10M) x 128 base.

Data: :func:`rae_explore.data.synthetic.write_sift_like_bvecs` writes a seeded SIFT-like
10,000,000 x 128 uint8 ``.bvecs`` (intrinsic dimension 16, 1.32 GB) and 10,000 queries once under
``data/cache/scale/``; the 1M set is its first million rows (``--quick``: a 100,000-row file).

Each measurement runs in a fresh subprocess and reports wall seconds and peak RSS
(``ru_maxrss``, file-backed pages of the memory map included). ``evaluate`` fits both methods
from one blocked pass of moments over the memory map (``fit_from_moments``), never a float32
copy of the base:

1. ``evaluate`` of PCA (32-d, ks 1/10/100, 1-R@1/10/100) with the ground-truth cache cold: it
   computes the exact 200-NN (2 x kmax, for ties) and stores ids and distances; then warm.
   Targets at 1M: <= 90 s and <= 1.5 GB.
2. The same for closed-form RAE, cache cold, then warm. Same targets.
3. A sweep (PCA and RP at 16 and 32 dimensions, ground truth cached) in this process and on a
   2-worker Dask ``LocalCluster`` (both use the 2 cores); and in this process on one thread
   against a 1-worker cluster (one thread per worker): that ratio is Dask's own overhead.
4. The intrinsic-dimension table (:func:`rae_explore.intrinsic.scale.estimate_id_at_scale`, 30 s
   predicted per estimator): every estimator on all rows or on a stated subsample. Targets at
   1M: <= 10 min and <= 4 GB; the rows each estimator used are printed.
5. If ``data/cache/minilm-wordnet-all/embeddings.npy`` exists (``scripts/build_minilm_wordnet.py
   --all``): PCA and RAE on the 117,659 MiniLM gloss embeddings (the last 10,000 rows are the
   queries, the rest the memory-mapped base; l2 on unit vectors ranks as cosine).

Sizes: ``BENCH_SCALE_SIZES=1M`` (default) or ``1M,10M`` (10M: targets <= 10 min, <= 3 GB;
only the evaluate rows run at 10M). ``BENCH_SCALE_PARTS`` (default ``evaluate,sweep,id,minilm``)
picks the parts; ``evaluate_cold`` runs the two cold-cache evaluations only.
"""

import json
import os
import subprocess
import sys
import time

GB = 1 << 30
TARGETS = {1_000_000: (90, 1.5), 10_000_000: (600, 3.0), 100_000: (None, None)}

CHILD = r"""
import json, resource, sys, time
import numpy as np
from rae_explore.data.datasets import Dataset
from rae_explore.data.formats import mmap_vecs
from rae_explore.experiments.evaluate import evaluate
from rae_explore.reducers import make_reducer

base, queries, n, method = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if base.endswith(".npy"):  # MiniLM: the last 10,000 rows are the queries
    X = np.load(base, mmap_mode="r")
    xb, xq = X[:X.shape[0] - 10_000], np.array(X[X.shape[0] - 10_000:], dtype=np.float32)
else:
    xb = mmap_vecs(base)[:n]
    xq = np.asarray(mmap_vecs(queries), dtype=np.float32)
ds = Dataset(f"scale-{xb.shape[0]}", xb, xq, metric="l2")
params = {"pca": {}, "rae": {"solver": "closed_form", "alpha": 1e-7}}[method]
t0 = time.perf_counter()
row = evaluate(make_reducer(method, n_components=32, **params), ds, ks=(1, 10, 100),
               recalls=((1, 1), (1, 10), (1, 100)))
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"wall_s": wall, "rss": rss, "fit_s": row["fit_s"], "top_k@10": row["top_k@10"]}))
"""


ID_CHILD = r"""
import json, resource, sys, time
from rae_explore.data.formats import mmap_vecs
from rae_explore.intrinsic.scale import estimate_id_at_scale

X = mmap_vecs(sys.argv[1])[:int(sys.argv[2])]
t0 = time.perf_counter()
table = estimate_id_at_scale(X, budget_s=30.0)
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
used = {r.estimator: [int(r.n_used), None if r.dimension != r.dimension else round(float(r.dimension), 2), r.status,
                     round(float(r.seconds), 1)] for r in table.itertuples()}
print(json.dumps({"wall_s": wall, "rss": rss, "used": used}))
"""


def _id_table(base, n):
    out = subprocess.run([sys.executable, "-c", ID_CHILD, str(base), str(n)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench_scale id-table child failed (n={n}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _data(n_base):
    from rae_explore.data.synthetic import write_sift_like_bvecs
    from rae_explore.paths import DATA_DIR

    root = DATA_DIR / "cache" / "scale"
    size = "10M" if n_base > 1_000_000 else ("1M" if n_base > 100_000 else "100k")
    full = 10_000_000 if size != "100k" else 100_000
    base = root / f"sift-like-{'10M' if size != '100k' else '100k'}-id16.bvecs"
    queries = root / "sift-like-queries-10k-id16.bvecs"
    if not base.exists() or base.stat().st_size != full * 132:
        print(f"writing {base} ({full * 132 / GB:.2f} GB, once)", flush=True)
        write_sift_like_bvecs(base, full, 128, 16, seed=0, verbose=True)
    if not queries.exists():
        write_sift_like_bvecs(queries, 10_000, 128, 16, seed=0, stream=1)
    return base, queries


def _child(base, queries, n, method, cache=True):
    env = dict(os.environ)
    if not cache:
        env["RAE_EXPLORE_GT_CACHE"] = "0"
    out = subprocess.run([sys.executable, "-c", CHILD, str(base), str(queries), str(n), method],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench_scale child failed ({method}, n={n}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _clear_gt_cache():
    from rae_explore.neighbors.gt_cache import GT_CACHE_DIR

    for f in GT_CACHE_DIR.glob("gt-*.npz"):
        f.unlink()


def _sweep_overhead(base, queries, n):
    """Seconds of the same sweep: in this process (default threads) against a 2-worker
    LocalCluster, and in this process on one thread against a 1-worker cluster (Dask's own cost)."""
    from rae_explore.experiments.distributed import DaskExecutor, dask_client
    from rae_explore.experiments.tasks import run_tasks
    from rae_explore.threads import limit_threads

    def configs():
        return [{"method": m, "n_components": c, "base": str(base), "queries": str(queries), "n": n}
                for m in ("pca", "rp") for c in (16, 32)]

    def key(rows):
        return sorted((r["method"], r["n_components"], r["top_k@10"]) for r in rows)

    scale_task(configs()[0])  # ground truth into the cache, pages into the OS cache: all runs start warm
    t = {}
    t0 = time.perf_counter()
    local = run_tasks(scale_task, configs())
    t["local"] = time.perf_counter() - t0
    with limit_threads(faiss=1, blas=1, torch=1):
        t0 = time.perf_counter()
        local1 = run_tasks(scale_task, configs())
        t["local1"] = time.perf_counter() - t0
    same = key(local) == key(local1)
    for workers in (2, 1):
        with dask_client(workers=workers, quiet=True) as client:
            client.run(lambda: None)  # workers up before the clock starts
            t0 = time.perf_counter()
            dist = run_tasks(scale_task, configs(), executor=DaskExecutor(client))
            t[f"dask{workers}"] = time.perf_counter() - t0
        same = same and key(dist) == key(local)
    return t, same


def scale_task(config):
    """One sweep configuration over the memory-mapped set (module level: picklable for Dask)."""
    import numpy as np

    from rae_explore.data.datasets import Dataset
    from rae_explore.data.formats import mmap_vecs
    from rae_explore.experiments.evaluate import evaluate

    xb = mmap_vecs(config["base"])[:config["n"]]
    xq = np.asarray(mmap_vecs(config["queries"]), dtype=np.float32)
    ds = Dataset(f"sift-like-{config['n']}", xb, xq, metric="l2")
    row = evaluate(config["method"], ds, ks=(10,), recalls=(), params={"n_components": config["n_components"], "random_state": 0})
    return {k: row[k] for k in ("method", "n_components", "top_k@10", "fit_s")}


MINILM = "minilm-wordnet-all"


def _evaluate_rows(base, queries, n, label_n, t_max, gb_max, warm=True):
    rows = []
    for label, method, clear in (("PCA, gt cache cold", "pca", True), ("PCA, gt cache warm", "pca", False),
                                 ("RAE closed form, gt cache cold", "rae", True),
                                 ("RAE closed form, gt cache warm", "rae", False)):
        if not (clear or warm):
            continue
        if clear:
            _clear_gt_cache()
        r = _child(base, queries, n, method, True)
        for what, value, unit, goal in (("time", r["wall_s"], "s", t_max), ("peak RSS", r["rss"] / GB, "GB", gb_max)):
            rows.append({"name": f"evaluate {label}, {label_n} -> 32, {what}", "value": value, "unit": unit,
                         "target": f"<= {goal} {unit}" if goal else "",
                         "note": f"fit {r['fit_s']:.1f} s, top-10 {r['top_k@10']:.3f}" if what == "time" else ""})
    return rows


def run(quick=False):
    from rae_explore.paths import DATA_DIR

    sizes = [100_000] if quick else [
        {"1M": 1_000_000, "10M": 10_000_000}[s.strip()] for s in os.environ.get("BENCH_SCALE_SIZES", "1M").split(",")]
    parts = {p.strip() for p in os.environ.get("BENCH_SCALE_PARTS", "evaluate,sweep,id,minilm").split(",")}
    rows = []
    for n in sizes:
        base, queries = _data(n)
        t_max, gb_max = TARGETS[n]
        if parts & {"evaluate", "evaluate_cold"}:
            rows += _evaluate_rows(base, queries, n, f"{n:,}x128", t_max, gb_max, warm="evaluate" in parts)
        if n > 1_000_000:
            continue  # the ID table and the sweep are 1M measurements
        if "id" in parts:
            r = _id_table(base, n)
            used = "; ".join(f"{e} {u[0]:,} rows -> {u[1]} ({u[3]} s)" if u[2] == "ok" else f"{e}: {u[2]}"
                             for e, u in r["used"].items())
            rows.append({"name": f"intrinsic-dimension table, {n:,}x128, time", "value": r["wall_s"], "unit": "s",
                         "target": "<= 600 s" if n == 1_000_000 else "", "note": used})
            rows.append({"name": f"intrinsic-dimension table, {n:,}x128, peak RSS", "value": r["rss"] / GB,
                         "unit": "GB", "target": "<= 4 GB" if n == 1_000_000 else ""})
        if "sweep" in parts:
            t, same = _sweep_overhead(base, queries, n)
            rows.append({"name": f"sweep pca/rp x 16/32 on {n:,}, Dask 2 workers vs in-process", "value": t["dask2"],
                         "unit": "s", "baseline": t["local"], "ratio": t["dask2"] / t["local"],
                         "target": "overhead, reported",
                         "note": f"in-process {t['local']:.1f} s (all cores); same rows everywhere: {same}"})
            rows.append({"name": f"sweep pca/rp x 16/32 on {n:,}, Dask 1 worker vs in-process on 1 thread",
                         "value": t["dask1"], "unit": "s", "baseline": t["local1"], "ratio": t["dask1"] / t["local1"],
                         "target": "overhead, reported",
                         "note": f"in-process 1 thread {t['local1']:.1f} s: the ratio is Dask's own cost "
                                 "(scheduling, task transfer, a worker process), both sides on one core"})
    minilm = DATA_DIR / "cache" / MINILM / "embeddings.npy"
    if "minilm" in parts and minilm.exists() and not quick:
        import numpy as np

        nb = np.load(minilm, mmap_mode="r").shape[0] - 10_000
        rows += _evaluate_rows(minilm, minilm, nb, f"MiniLM WordNet {nb:,}x384 (10k queries)", None, None)
    return rows
