"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""

import dataclasses

import faiss
import pytest
from sklearn.decomposition import PCA

from rae_explore.index import (PAPER_RECALLS, build_pipeline,
                               evaluate_pipeline, sweep_pipeline)

RECALL_COLS = [f"{n}-R@{m}" for n, m in PAPER_RECALLS]


# ---------------------------------------------------------------- exact baselines, sizes
@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_flat_on_original_vectors_has_recall_exactly_one(small, metric):
    ds = small if metric == "l2" else dataclasses.replace(small, metric=metric, gt=None)
    row = evaluate_pipeline(ds, "Flat", n_single=5)
    for c in RECALL_COLS:
        assert row[c] == 1.0, (metric, c, row[c])
    assert row["reducer"] == "none" and row["n_components"] == 32 and row["search_params"] == "none"


def test_size_cr_ss_are_measured_by_serialising(small):
    pipe = build_pipeline(small, "Flat")
    assert pipe.index_bytes_ == faiss.serialize_index(pipe.index_).size
    # a flat index stores nb * d float32 plus a small header
    raw = small.nb * small.d * 4
    assert raw <= pipe.index_bytes_ < raw + 200
    row = evaluate_pipeline(small, "Flat", n_single=1)
    assert row["original_bytes"] == raw
    assert row["cr"] == pytest.approx(raw / row["index_bytes"])
    assert row["ss"] == pytest.approx(1 - 1 / row["cr"])
    # PCA to d/4 then Flat: a quarter of the bytes
    row4 = evaluate_pipeline(small, "Flat", PCA(), n_components=8, n_single=1)
    assert row4["cr"] == pytest.approx(4.0, rel=0.01) and row4["ss"] == pytest.approx(0.75, rel=0.01)
    # SQ8: one byte per value (+ 2 d floats of trained ranges)
    row_sq = evaluate_pipeline(small, "SQ8", n_single=1)
    assert row_sq["cr"] == pytest.approx(4.0, rel=0.03)


def test_ivf_sweep_is_monotone_and_reaches_exact(small):
    rows = sweep_pipeline(small, "IVF8,Flat", n_single=1)
    assert [r["nprobe"] for r in rows] == [1, 2, 4, 8]
    rec = [r["10-R@10"] for r in rows]
    assert all(b >= a for a, b in zip(rec, rec[1:])) and rec[-1] == 1.0
    assert len({r["build_time_s"] for r in rows}) == 1  # built once
    assert all(r["search_params_source"] == "sweep" and r["qps"] > 0 for r in rows)


def test_faiss_threads_recorded_and_restored(small):
    before = faiss.omp_get_max_threads()
    row = evaluate_pipeline(small, "Flat", n_threads=1, n_single=1)
    assert row["n_threads"] == 1 and faiss.omp_get_max_threads() == before
    with pytest.raises(ValueError, match="n_threads"):
        evaluate_pipeline(small, "Flat", n_threads=0)


def test_sweep_values_out_of_range_are_refused_before_the_build():
    import numpy as np

    from rae_explore.data.datasets import Dataset
    from rae_explore.index.measure import sweep_pipeline

    x = np.random.default_rng(0).standard_normal((60, 8)).astype("float32")
    ds = Dataset("t", x[:50], x[50:])
    with pytest.raises(ValueError, match="sweep: efSearch .* got 0"):
        sweep_pipeline(ds, "HNSW8", sweep={"efSearch": [16, 0]}, recalls=[(1, 1)])
