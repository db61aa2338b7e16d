"""Catalyzer and CCST: fit time on 2 cores, top-10 next to PCA, the lattice table, and the reference.

1. Fit time of ``catalyzer`` and ``ccst`` with their defaults at 4x compression: sift5k
   (4,500 x 128 -> 32) and minilm-wordnet (9,000 x 384 -> 96). Target: <= 60 s each. The top-10
   accuracy (queries' exact 10-NN found among their 10-NN in the reduced space) is in the notes,
   next to PCA's at the same dimension.
2. The spreading-vectors table on sift5k: catalyzer-32 + a lattice code of b bits
   (:mod:`rae_explore.index.lattice`) against PCA-32 + PQ and OPQ + PQ at the same b bits
   (``PQ{b/8}``: b/8 sub-quantizers of 8 bits), 1-R@1, 1-R@10, 10-R@10. The value is the
   lattice's 1-R@10, the baseline PCA + PQ's.
3. Fidelity against the reference (github.com/facebookresearch/spreadingvectors) when a
   checkout is named by ``SPREADINGVECTORS_DIR``: its own ``train.triplet_optimize`` (imported,
   unmodified, in a subprocess: its ``load_dataset`` knows only BigANN/Deep1B, so sift5k is handed
   over as arrays) and ours, with the same hyperparameters (d_int 256, d_out 32, batch 64,
   8 epochs, the schedule 0.1, 0.1, 0.05, 0.01, λ 0.05, ranks 10/50), one torch and one faiss
   thread each (ours: one torch thread, faiss on the idle cores), seeds 0-9. Compared: time per
   epoch (target ours <= theirs) and the mean 1-R@10 after the same lattice code at 16/32/64
   bits (target within 1 point; the 95% interval of the difference is in the notes: one
   model's 1-R@10 varies by about 2 points from seed to seed). Ours runs as the reference does
   where the issue leaves room: three forward passes, one SGD optimiser through the stepped
   schedule, the point itself among its positives (``self_positive=True``; the default excludes
   it, as the issue asks) and ``negatives="hnsw"``, the reference's approximate CPU search of
   the negatives (the Catalyzer's default: exact at this size).
4. 100,000 x 128 -> 32 (a generated set, as ``bench_neural``): fit time (target <= 5 min) and
   peak RSS (<= 2 GB) of both, in a child process each; the CPU seconds of the fit are given too,
   since on shared cores the wall time measures the other jobs as much as ours.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

FIT_TARGET_S = 60.0

_REFERENCE_DRIVER = textwrap.dedent("""
    import argparse, json, sys, time
    import numpy as np, torch, faiss
    sys.path.insert(0, sys.argv[1])
    from train import triplet_optimize
    from lib.metrics import get_nearestneighbors, sanitize
    from lib.net import Normalize, forward_pass
    from torch import nn
    data, out, dint, dout, epochs, bs, lam, seed = sys.argv[2:10]
    dint, dout, epochs, bs, lam, seed = int(dint), int(dout), int(epochs), int(bs), float(lam), int(seed)
    torch.set_num_threads(1); faiss.omp_set_num_threads(1)
    np.random.seed(seed); torch.manual_seed(seed)
    d = np.load(data); xb, xq = sanitize(d["xb"]), sanitize(d["xq"])
    t0 = time.time()
    gt = get_nearestneighbors(xb, xb, 10, device="cpu")
    net = nn.Sequential(nn.Linear(xb.shape[1], dint), nn.BatchNorm1d(dint), nn.ReLU(), nn.Linear(dint, dint),
                        nn.BatchNorm1d(dint), nn.ReLU(), nn.Linear(dint, dout), Normalize())
    args = argparse.Namespace(lr_schedule="0.1,0.1,0.05,0.01", epochs=epochs, quantizer_train="", device="cpu",
                              momentum=0.9, batch_size=bs, rank_negative=50, lambda_uniform=lam, val_freq=10**9, lr=0.1)
    c0 = time.process_time()
    logs = triplet_optimize(xb, gt, net, args, None)
    fit, cpu = time.time() - t0, time.process_time() - c0
    net.eval()
    np.savez(out, xb=forward_pass(net, xb, 1024), xq=forward_pass(net, xq, 1024))
    print("RESULT " + json.dumps({"fit_s": fit, "cpu_s": cpu, "epoch_s": [sum(l["times"][:2]) for l in logs]}))
""")


def _top10(Zq, Zb, gt):
    from rae_explore.neighbors.knn import knn_search
    from rae_explore.neighbors.metrics import top_k_accuracy

    return top_k_accuracy(gt, knn_search(Zq, Zb, 10)[1], 10)


def fit_rows(quick=False):
    """Fit time of the two reducers (defaults) on the two datasets, top-10 next to PCA in the notes."""
    from rae_explore.data.datasets import load_dataset
    from rae_explore.neighbors.knn import knn_search
    from rae_explore.reducers import make_reducer

    rows = []
    for name, m in (("sift5k", 32), ("minilm-wordnet", 96)):
        ds = load_dataset(name, seed=0, n_samples=1000 if quick else None)
        xb, xq = (ds.xb, ds.xq)
        if ds.metric == "cosine":  # the cosine rule: unit vectors in, as the index pipelines do
            from rae_explore.vectors import l2_normalize

            xb, xq = l2_normalize(xb), l2_normalize(xq)
        gt = knn_search(xq, xb, 10)[1]
        pca = make_reducer("pca", n_components=m, random_state=0).fit(xb)
        pca_top = _top10(pca.transform(xq), pca.transform(xb), gt)
        for method in ("catalyzer", "ccst"):
            params = {"max_epochs": 2} if quick else {}
            red = make_reducer(method, n_components=m, random_state=0, device="cpu", **params)
            load = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), time.process_time()
            red.fit(xb)
            fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
            top = _top10(red.transform(xq), red.transform(xb), gt)
            rows.append({"name": f"{method} fit {name} {xb.shape[0]}x{xb.shape[1]}->{m}", "value": fit_s, "unit": "s",
                         "baseline": FIT_TARGET_S, "ratio": fit_s / FIT_TARGET_S, "target": "<= 1 (60 s)",
                         "note": f"top-10 {top:.3f} vs PCA {pca_top:.3f}; CPU {cpu_s:.1f} s; {red.n_iter_} steps, "
                                 f"{len(red.history_)} epochs; load average {load:.1f} at the start on 2 cores"})
    return rows


def lattice_rows(quick=False, bits=(16, 32, 64)):
    """Catalyzer + lattice against PCA + PQ and OPQ + PQ at equal bits on sift5k."""
    import warnings

    from rae_explore.data.datasets import load_dataset
    from rae_explore.index.lattice import LATTICE_RECALLS, evaluate_lattice
    from rae_explore.index.measure import evaluate_pipeline
    from rae_explore.index.pipeline import fit_reduction

    ds = load_dataset("sift5k", seed=0, n_samples=1000 if quick else None).with_ground_truth(10)
    params = {"device": "cpu", "max_epochs": 2} if quick else {"device": "cpu"}
    cat = fit_reduction(ds.xb, None, "catalyzer", 32, params, 0)  # fitted once, coded at every b
    cols = ("1-R@1", "1-R@10", "10-R@10")
    rows = []
    for b in bits:
        lat = evaluate_lattice(ds, b, cat, n_single=10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PQ's 256 centroids on 4,500 points: faiss warns, it still trains
            pq = evaluate_pipeline(ds, f"PQ{b // 8}np", "pca", n_components=32, recalls=LATTICE_RECALLS, n_single=10)
            opq = evaluate_pipeline(ds, f"OPQ{b // 8},PQ{b // 8}np", None, recalls=LATTICE_RECALLS, n_single=10)
        fmt = lambda r: " ".join(f"{c} {r[c]:.3f}" for c in cols)
        rows.append({"name": f"sift5k {b} bits: catalyzer-32 + lattice, 1-R@10", "value": lat["1-R@10"],
                     "unit": "recall", "baseline": pq["1-R@10"], "ratio": lat["1-R@10"] / max(pq["1-R@10"], 1e-9),
                     "target": "PCA-32 + PQ at equal bits",
                     "note": f"lattice ({lat['code_bits']} bits, r2={lat['lattice_r2']}): {fmt(lat)} | PCA-32 + "
                             f"PQ{b // 8}: {fmt(pq)} | OPQ{b // 8},PQ{b // 8}: {fmt(opq)}"})
    return rows


def reference_rows(ref_dir, quick=False, epochs=8, hidden=256, batch_size=64, lambda_uniform=0.05,
                   seeds=tuple(range(10)), self_positive=True, negatives="hnsw"):
    """Epoch time and lattice recall of the reference's training against ours (same hyperparameters), over seeds.

    Ten seeds by default: one model's 1-R@10 at 64 bits varies by about 2 points (standard
    deviation) from seed to seed, for the reference as for ours, so that three seeds cannot
    resolve a 1-point goal (the mean difference's 95% interval is given in the notes).
    """
    from rae_explore.data.datasets import load_dataset
    from rae_explore.index.lattice import LatticeCodec
    from rae_explore.neighbors.knn import knn_search
    from rae_explore.neighbors.metrics import recall_n_at_m
    from rae_explore.reducers.neural.catalyzer import Catalyzer

    epochs, seeds = (4, seeds[:1]) if quick else (epochs, seeds)
    ds = load_dataset("sift5k", seed=0, n_samples=1000 if quick else None)
    gt = knn_search(ds.xq, ds.xb, 10)[1]
    bits = (16, 32, 64)
    epoch_s = {"ours": [], "reference": []}
    fit_s = {"ours": [], "reference": []}
    cpu_s = {"ours": [], "reference": []}
    rec = {(who, b): [] for who in ("ours", "reference") for b in bits}
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            data, out, driver = (os.path.join(tmp, f) for f in ("sift5k.npz", "codes.npz", "driver.py"))
            np.savez(data, xb=ds.xb, xq=ds.xq)
            with open(driver, "w") as f:
                f.write(_REFERENCE_DRIVER)
            proc = subprocess.run([sys.executable, driver, ref_dir, data, out, str(hidden), "32", str(epochs),
                                   str(batch_size), str(lambda_uniform), str(seed)], capture_output=True, text=True,
                                  check=True)
            ref = json.loads(proc.stdout.split("RESULT ", 1)[1])
            codes = np.load(out)
            codes = {"reference": (codes["xb"], codes["xq"])}
        c0 = time.process_time()
        ours = Catalyzer(32, hidden=hidden, batch_size=batch_size, max_epochs=epochs, lambda_uniform=lambda_uniform,
                         random_state=seed, device="cpu", self_positive=self_positive,
                         negatives=negatives).fit(ds.xb)
        cpu_s["ours"].append(time.process_time() - c0)  # with its positives, as the reference's training loop below
        cpu_s["reference"].append(ref["cpu_s"])
        codes["ours"] = (ours.transform(ds.xb), ours.transform(ds.xq))
        epoch_s["reference"] += ref["epoch_s"]
        epoch_s["ours"] += [r["epoch_seconds"] for r in ours.history_]
        fit_s["reference"].append(ref["fit_s"])
        fit_s["ours"].append(ours.history_[-1]["seconds"])
        for b in bits:
            codec = LatticeCodec(32, b)
            for who, (zb, zq) in codes.items():
                I = knn_search(zq, codec.decode(codec.encode(zb)), 10)[1]
                rec[who, b].append((recall_n_at_m(gt, I, 1, 1), recall_n_at_m(gt, I, 1, 10)))
    ref_epoch, our_epoch = float(np.median(epoch_s["reference"])), float(np.median(epoch_s["ours"]))
    which = ("self in positives, as the reference" if self_positive else "self excluded from positives") + (
        f", {negatives} negatives" if negatives != "auto" else "")
    rows = [{"name": f"catalyzer epoch time, ours ({which}) vs reference (sift5k)", "value": our_epoch, "unit": "s",
             "baseline": ref_epoch, "ratio": our_epoch / ref_epoch, "target": "<= 1",
             "note": f"medians over {len(seeds)} seeds x {epochs} epochs; training loop {np.mean(fit_s['ours']):.1f} s "
                     f"vs reference {np.mean(fit_s['reference']):.1f} s (its ground truth included); CPU of the fit "
                     f"{np.mean(cpu_s['ours']):.1f} s vs reference {np.mean(cpu_s['reference']):.1f} s (without its "
                     f"ground truth); load average {os.getloadavg()[0]:.1f} at the end on 2 cores"}]
    for b in bits:
        o, r = np.array(rec["ours", b]), np.array(rec["reference", b])
        diff = o[:, 1] - r[:, 1]
        # Welch's interval of the difference of means: the seeds of the two codes are unrelated draws
        half = float("nan")
        if len(o) > 1:
            half = 1.96 * float(np.sqrt(o[:, 1].var(ddof=1) / len(o) + r[:, 1].var(ddof=1) / len(r)))
        rows.append({"name": f"catalyzer + lattice {b} bits, 1-R@10 ours ({which}) vs reference",
                     "value": float(o[:, 1].mean()),
                     "unit": "recall", "baseline": float(r[:, 1].mean()),
                     "ratio": float(o[:, 1].mean() / max(r[:, 1].mean(), 1e-9)), "target": "within 0.01",
                     "note": f"means over seeds {list(seeds)}: 1-R@1 ours {o[:, 0].mean():.3f} vs reference "
                             f"{r[:, 0].mean():.3f}; 1-R@10 difference {diff.mean():+.3f} (95% interval "
                             f"+-{half:.3f}; seed-to-seed SD ours {o[:, 1].std(ddof=1) if len(o) > 1 else 0:.3f}, "
                             f"reference {r[:, 1].std(ddof=1) if len(r) > 1 else 0:.3f}; per seed "
                             f"{', '.join(f'{v:+.3f}' for v in diff)})"})
    return rows


_SCALE_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import torch  # noqa: F401  (imported before the clock starts)
    from rae_explore.data.synthetic import synthetic
    from rae_explore.neighbors.knn import knn_search
    from rae_explore.neighbors.metrics import top_k_accuracy
    from rae_explore.reducers import make_reducer
    method, n = sys.argv[1], int(sys.argv[2])
    ds = synthetic(d=128, nb=n, nq=1000, intrinsic_dim=16, seed=0, noise=0.05)
    red = make_reducer(method, n_components=32, random_state=0, device="cpu")
    t0, c0 = time.perf_counter(), time.process_time()
    red.fit(ds.xb)
    fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    I = knn_search(red.transform(ds.xq), red.transform(ds.xb), 10)[1]
    top = top_k_accuracy(knn_search(ds.xq, ds.xb, 10)[1], I, 10)
    print("RESULT " + json.dumps({"fit_s": fit_s, "cpu_s": cpu_s, "top10": top, "epochs": len(red.history_),
                                  "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
""")


def scale_rows(quick=False, methods=("catalyzer", "ccst")):
    """Fit time, CPU time and peak RSS at 100,000 x 128 -> 32 (10,000 with ``quick``), one child process each."""
    n = 10_000 if quick else 100_000
    rows = []
    for method in methods:
        load = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, "-c", _SCALE_CHILD, method, str(n)], capture_output=True, text=True,
                              check=True)
        r = json.loads(proc.stdout.split("RESULT ", 1)[1])
        rows.append({"name": f"{method} fit generated {n}x128->32", "value": r["fit_s"], "unit": "s", "baseline": 300.0,
                     "ratio": r["fit_s"] / 300.0, "target": "<= 1 (5 min), <= 2 GB",
                     "note": f"CPU {r['cpu_s']:.0f} s; peak RSS {r['rss_gb']:.2f} GB; top-10 {r['top10']:.3f}; "
                             f"{r['epochs']} epochs; load average {load:.1f} at the start on 2 shared cores"})
    return rows


def run(quick=False):
    rows = fit_rows(quick) + lattice_rows(quick) + scale_rows(quick)
    ref_dir = os.environ.get("SPREADINGVECTORS_DIR")
    if ref_dir:
        rows += reference_rows(ref_dir, quick)
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
