"""Intrinsic dimension benchmark: the whole estimator table, fast, against plain scikit-dimension.

1. ``estimate_id`` with every estimator (default per-estimator budget of 60 s: PH and DANCo's
   simulated calibration are skipped by their predicted cost) on 100,000 x 128 vectors
   (``manifold-id32-in128``, float32), in a fresh subprocess. Targets: <= 60 s wall for the
   call (shared exact neighbour search included), <= 2 GB peak RSS of the whole process
   (``ru_maxrss`` of the child, read by the parent through ``os.wait4``).
2. The same estimators on ``ball-id10-in64`` with n = 20,000 (a 10-d ball rotated into 64-d),
   fast path against plain scikit-dimension 0.5 (its own neighbour search and loops), both
   measured in this run: per estimator, and in total. Every side runs in its own subprocess
   (plain MADA/KNN/TwoNN build n x n matrices of several GB). PH is left out of both sides:
   plain PH builds 1,000 minimum spanning trees of 10k-20k points (hours) and the fast path's
   budget skips it too. Target: total >= 50x, same estimates (relative difference printed).

``quick=True`` shrinks the sizes (10,000 x 128 and n = 2,000) to smoke-test in a minute.
The machine is shared: the 1-minute load average is printed with every figure.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ALL = ("lPCA", "MLE", "TwoNN", "DANCo", "DANCoFit", "ESS", "FisherS", "CorrInt", "KNN", "MADA", "MiND_ML", "MOM",
       "TLE", "GRIDE", "PH")
COMPARED = tuple(e for e in ALL if e != "PH")


def _data(name, n, seed=0):
    from rae_explore.data.datasets import load_dataset

    ds = load_dataset(name, n_samples=n, seed=seed)
    return np.ascontiguousarray(np.concatenate([ds.xb, ds.xq]), dtype=np.float32)


def _child(spec, out_path):
    """Runs in the subprocess: one estimate_id call, results to ``out_path`` as JSON."""
    import resource

    from rae_explore.intrinsic.estimate import estimate_id

    X = _data(spec["dataset"], spec["n"])
    if spec.get("warm"):  # import torch/numba/skdim outside the timed call, as a long-lived session would
        estimate_id(X[:300], ["FisherS", "ESS", "MLE"], budget_s=None)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    table = estimate_id(X, spec["estimators"], budget_s=spec.get("budget_s"), params=spec.get("params"),
                        fast=spec["fast"], random_state=0, cache_dir=spec.get("cache_dir"))
    wall = time.perf_counter() - t0
    res = {"wall": wall, "load": [load0, os.getloadavg()[0]], "attrs": {k: v for k, v in table.attrs.items()},
           "rows": table.to_dict(orient="records"),
           "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "shape": list(X.shape)}
    with open(out_path, "w") as f:
        json.dump(res, f, default=float)


def _run_child(spec, timeout=None):
    """Run ``_child`` in a fresh interpreter; return its result and its peak RSS (MB) from wait4."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, "-m", "benchmarks.bench_intrinsic_dim", "--child", json.dumps(spec), out]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.monotonic()
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.monotonic() - t0 > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s"}, float("nan")
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        if proc.returncode != 0 or not os.path.exists(out):
            return {"error": f"exit {proc.returncode}: {err.strip().splitlines()[-1:] or ''}"}, float("nan")
        with open(out) as f:
            res = json.load(f)
        return res, usage.ru_maxrss / 1024  # KiB on Linux


def whole_table(n=100_000, dataset="manifold-id32-in128", budget_s=60.0):
    res, rss = _run_child({"dataset": dataset, "n": n, "estimators": "all", "budget_s": budget_s, "fast": True,
                           "warm": False})
    if "error" in res:
        return [{"name": f"whole table {n:,} x 128", "value": float("nan"), "unit": "s", "note": res["error"]}]
    rows = res["rows"]
    ran = [r["estimator"] for r in rows if r["status"] == "ok"]
    skipped = [r["estimator"] for r in rows if r["status"].startswith("skipped")]
    failed = [f"{r['estimator']} ({r['status']})" for r in rows if r["status"].startswith("failed")]
    per = ", ".join(f"{r['estimator']} {r['seconds']:.2f}" for r in rows if r["status"] == "ok")
    a = res["attrs"]
    note = (f"{len(ran)} ran, skipped by budget: {', '.join(skipped) or 'none'}"
            + (f", failed: {', '.join(failed)}" if failed else "")
            + f"; shared {a['k']}-NN search {a['neighbours_seconds']:.1f} s (slowdown x{a['slowdown']:.1f}); "
            f"per estimator (s): {per}; load avg {res['load'][0]:.1f} -> {res['load'][1]:.1f}; "
            f"imports and data generation not timed")
    shape = f"{res['shape'][0]:,} x {res['shape'][1]}"
    return [
        {"name": f"estimate_id all estimators, {shape} ({dataset})", "value": res["wall"], "unit": "s",
         "target": "<= 60 s", "note": note},
        {"name": f"peak RSS of that process, {shape}", "value": rss, "unit": "MB", "target": "<= 2048 MB",
         "note": f"ru_maxrss via os.wait4 (child's own getrusage: {res['maxrss_mb']:.0f} MB)"},
    ]


def versus_plain(n=20_000, dataset="ball-id10-in64", estimators=COMPARED, plain_timeout=3600):
    # fast side: one call with every compared estimator (shared neighbours), no budget; run twice
    # with a fresh DANCo calibration cache: cold (the calibration is simulated) and warm (read back)
    with tempfile.TemporaryDirectory() as cache:
        spec = {"dataset": dataset, "n": n, "estimators": list(estimators), "budget_s": None, "fast": True,
                "warm": True, "cache_dir": cache}
        fast, fast_rss = _run_child(spec)
        warm, _ = _run_child(spec) if "error" not in fast else (fast, None)
    if "error" in fast:
        return [{"name": f"fast estimators n={n:,}", "value": float("nan"), "unit": "s", "note": fast["error"]}]
    frows = {r["estimator"]: r for r in fast["rows"]}
    nb_s = fast["attrs"]["neighbours_seconds"]
    out, tot_fast, tot_plain, worst = [], nb_s, 0.0, 0.0
    danco = [0.0, 0.0]  # fast, plain seconds of DANCo's simulated calibration (the slowest fast path)
    for name in estimators:
        plain, rss = _run_child({"dataset": dataset, "n": n, "estimators": [name], "fast": False, "warm": True},
                                timeout=plain_timeout)
        f = frows[name]
        if "error" in plain or plain["rows"][0]["status"] != "ok" or f["status"] != "ok":
            why = plain.get("error") or plain["rows"][0]["status"]
            out.append({"name": f"{name}, n={n:,} {dataset}: fast vs plain", "value": f["seconds"], "unit": "s",
                        "note": f"not compared: plain {why}; fast {f['status']}"})
            continue
        p = plain["rows"][0]
        rel = abs(f["dimension"] / p["dimension"] - 1)
        worst = max(worst, rel)
        tot_fast += f["seconds"]
        tot_plain += p["seconds"]
        if name == "DANCo":
            danco = [f["seconds"], p["seconds"]]
        out.append({"name": f"{name}, n={n:,} {dataset}: fast vs plain", "value": f["seconds"], "unit": "s",
                    "baseline": p["seconds"], "ratio": p["seconds"] / max(f["seconds"], 1e-9), "target": "",
                    "note": f"estimate {f['dimension']:.6g} vs plain {p['dimension']:.6g} (rel. diff {rel:.1e}); "
                            f"plain peak RSS {rss:.0f} MB; load avg {plain['load'][0]:.1f}"})
    if "error" not in warm:
        wrows = {r["estimator"]: r for r in warm["rows"]}
        tot_warm = warm["attrs"]["neighbours_seconds"] + sum(
            wrows[r["name"].split(",")[0]]["seconds"] for r in out if r.get("baseline") is not None)
        same = all(wrows[e]["dimension"] == frows[e]["dimension"] for e in wrows if frows[e]["status"] == "ok")
        out.append({"name": f"same, DANCo calibration cached: plain / fast", "value": tot_warm, "unit": "s",
                    "baseline": tot_plain, "ratio": tot_plain / tot_warm if tot_warm else float("nan"),
                    "target": ">= 50x",
                    "note": f"second run with the calibration cache the first one wrote (it depends on n, k, D "
                            f"and the seed only); DANCo {wrows['DANCo']['seconds']:.2f} s; estimates identical "
                            f"to the cold run: {same}"})
    out.append({"name": f"all compared estimators, n={n:,} {dataset}: plain / fast", "value": tot_fast, "unit": "s",
                "baseline": tot_plain, "ratio": tot_plain / tot_fast if tot_fast else float("nan"),
                "target": ">= 50x",
                "note": f"fast total includes the shared neighbour search ({nb_s:.2f} s); without DANCo "
                        f"{(tot_plain - danco[1]) / max(tot_fast - danco[0], 1e-9):.0f}x; largest relative "
                        f"difference of the estimates {worst:.1e}; fast peak RSS {fast_rss:.0f} MB; PH left out "
                        f"(plain: hours; fast: skipped by budget)"})
    return out


def run(quick=False):
    """Benchmark rows (see the module docstring); ``quick`` shrinks the sizes."""
    if quick:
        return whole_table(n=10_000) + versus_plain(n=2_000)
    return whole_table() + versus_plain()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]), sys.argv[3])
    else:
        for row in run(quick="--quick" in sys.argv):
            print(row)
