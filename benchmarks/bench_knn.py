"""Exact k-NN: speed against bare faiss, and peak memory over a memory-mapped base.

1. ``ground_truth`` on 100,000 x 128 synthetic float32 (1,000 queries, k=100) against a bare
   ``faiss.IndexFlatL2`` add + search on the same arrays. Target: <= 1.2x its time.
2. Peak RSS of ``ground_truth`` over a memory-mapped 2,000,000 x 128 ``.bvecs`` base (256 MB
   on disk, 1 GB as float32), in a fresh subprocess, with 256 MiB blocks and with
   the default 64 MiB blocks (one per search thread). Target: bounded by the block size, not the base size.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_time(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def speed(nb=100_000, nq=1_000, d=128, k=100, repeat=5):
    import faiss

    from rae_explore.neighbors.knn import ground_truth

    rng = np.random.default_rng(0)
    xb = rng.standard_normal((nb, d), dtype=np.float32)
    xq = rng.standard_normal((nq, d), dtype=np.float32)

    def bare():
        index = faiss.IndexFlatL2(d)
        index.add(xb)
        return index.search(xq, k)

    def ours():
        return ground_truth(xq, xb, k)

    ours(), bare()  # warm up (thread pools, page faults)
    t_bare, t_ours = [], []
    for _ in range(repeat):  # interleave so machine noise hits both sides alike
        t_bare.append(_median_time(bare, 1))
        t_ours.append(_median_time(ours, 1))
    assert np.array_equal(ours(), bare()[1])
    tb, to = statistics.median(t_bare), statistics.median(t_ours)
    return {"name": f"ground_truth {nb:,}x{d}, {nq:,} queries, k={k}", "value": to, "unit": "s",
            "baseline": tb, "ratio": to / tb, "target": "<= 1.2x bare IndexFlatL2",
            "note": f"faiss threads={faiss.omp_get_max_threads()}, median of {repeat}"}


def _make_bvecs(path, n, d, block=200_000):
    from rae_explore.data.formats import _record_dtype

    rng = np.random.default_rng(1)
    rec = np.empty(block, dtype=_record_dtype(d, np.uint8))
    with open(path, "wb") as f:
        for a in range(0, n, block):
            m = min(block, n - a)
            rec["dim"][:m] = d
            rec["vec"][:m] = rng.integers(0, 192, size=(m, d), dtype=np.uint8)
            f.write(rec[:m].tobytes())


_CHILD = r"""
import json, resource, sys, time
import numpy as np
from rae_explore.data.formats import mmap_vecs
from rae_explore.neighbors.knn import ground_truth
path, block_mib = sys.argv[1], int(sys.argv[2])
xb = mmap_vecs(path)
xq = np.array(xb[:1000], dtype=np.float32) + 0.5
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
I = ground_truth(xq, xb, 10, block_bytes=block_mib * 2**20)
dt = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after, "seconds": dt, "first": int(I[0, 0])}))
"""


def memory(n=2_000_000, d=128, blocks_mib=(256, 64)):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.bvecs"
        _make_bvecs(path, n, d)
        size_mb = path.stat().st_size / 2**20
        for mib in blocks_mib:
            out = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(mib)], check=True,
                                 capture_output=True, text=True, env=dict(os.environ))
            r = json.loads(out.stdout)
            growth = (r["after_kib"] - r["before_kib"]) / 1024
            base_mib = n * d * 4 / 2**20
            rows.append({"name": f"peak RSS growth, ground truth over mmap {n:,}x{d} .bvecs, {mib} MiB blocks",
                         "value": growth, "unit": "MiB", "baseline": base_mib, "ratio": growth / base_mib,
                         "target": "bounded by the block size, not the base size",
                         "note": f"peak RSS {r['after_kib'] / 1024:.0f} MiB (after imports {r['before_kib'] / 1024:.0f}); "
                                 f"file {size_mb:.0f} MiB on disk; search {r['seconds']:.1f} s; "
                                 "baseline = the base as float32 in RAM"})
    return rows


def run(quick=False):
    if quick:
        return [speed(nb=20_000, nq=200, repeat=2)] + memory(n=200_000, blocks_mib=(16,))
    return [speed()] + memory()
