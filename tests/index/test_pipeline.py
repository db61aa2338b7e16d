"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""

import dataclasses

import faiss
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import FunctionTransformer

from rae_explore.index import (PAPER_RECALLS, IndexPipeline, build_pipeline,
                               evaluate_pipeline)

RECALL_COLS = [f"{n}-R@{m}" for n, m in PAPER_RECALLS]


@pytest.fixture(scope="module")
def small_cos(small):
    return dataclasses.replace(small, metric="cosine", gt=None).with_ground_truth(100)


def test_identity_reducer_changes_nothing(small):
    ident = FunctionTransformer(lambda X: X)
    a = build_pipeline(small, "HNSW16")
    b = build_pipeline(small, "HNSW16", ident)
    Da, Ia = a.search(small.xq, 10)
    Db, Ib = b.search(small.xq, 10)
    np.testing.assert_array_equal(Ia, Ib)
    np.testing.assert_array_equal(Da, Db)
    ra = evaluate_pipeline(small, "HNSW16", n_single=1)
    rb = evaluate_pipeline(small, "HNSW16", ident, n_single=1)
    assert [ra[c] for c in RECALL_COLS] == [rb[c] for c in RECALL_COLS]
    assert ra["index_bytes"] == rb["index_bytes"] and rb["reducer"] == "functiontransformer"


def test_reducer_by_name_and_by_object_agree(small):
    by_name = evaluate_pipeline(small, "Flat", "pca", n_components=4, n_single=1)
    by_obj = evaluate_pipeline(small, "Flat", PCA(), n_components=4, n_single=1)
    assert by_name["n_components"] == by_obj["n_components"] == 4
    assert by_name["10-R@10"] == pytest.approx(by_obj["10-R@10"], abs=0.02)
    assert 0.2 < by_name["10-R@10"] < 0.95  # the data is 8-d: 4 dims are lossy, yet far from random (0.017)
    assert by_name["reducer_fit_time_s"] > 0 and by_name["reducer"] == "pca"


def test_cosine_pipeline_uses_inner_product_and_unit_vectors(small_cos):
    pipe = build_pipeline(small_cos, "Flat", PCA(), n_components=8)
    assert pipe.index_.metric_type == faiss.METRIC_INNER_PRODUCT
    stored = faiss.rev_swig_ptr(pipe.index_.get_xb(), pipe.index_.ntotal * 8).reshape(-1, 8)
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1, atol=1e-5)
    D, _ = pipe.search(small_cos.xq, 5)
    assert (D <= 1 + 1e-5).all()  # cosine similarities


# ---------------------------------------------------------------- search parameters, sweeps, re-rank
def test_pipeline_is_an_estimator_get_params_and_clone_round_trip(small):
    from sklearn.base import clone

    pipe = IndexPipeline("HNSW16", "pca", n_components=8, search_params={"efSearch": 40}, random_state=3)
    assert pipe.get_params()["n_components"] == 8 and pipe.get_params()["search_params"] == {"efSearch": 40}
    fitted = pipe.fit(small.xb)
    twin = clone(fitted)
    assert not hasattr(twin, "index__") and not hasattr(twin, "index_")
    assert twin.get_params() == pipe.get_params()
    _, a = fitted.search(small.xq, 10)
    _, b = twin.fit(small.xb).search(small.xq, 10)
    np.testing.assert_array_equal(a, b)  # same parameters and seed: the same index


def test_a_fitted_reduction_is_shared_without_refitting(small):
    from rae_explore.index.pipeline import FittedReduction, fit_reduction

    red = fit_reduction(small.xb, None, "pca", 8)
    assert isinstance(red, FittedReduction) and red.n_components == 8 and red.name == "pca"
    rows = [evaluate_pipeline(small, ix, red, recalls=[(1, 10)], n_single=2) for ix in ("Flat", "HNSW16")]
    assert all(r["reducer"] == "pca" and r["n_components"] == 8 for r in rows)
    assert rows[0]["reducer_fit_time_s"] == rows[1]["reducer_fit_time_s"] == red.fit_time_s  # fitted once
    direct = evaluate_pipeline(small, "Flat", "pca", n_components=8, recalls=[(1, 10)], n_single=2)
    assert rows[0]["1-R@10"] == direct["1-R@10"]
    with pytest.raises(ValueError, match="reduced 600 base vectors but xb has 100"):
        IndexPipeline("Flat", red).fit(small.xb[:100])


def test_rerank_with_whole_base_is_exact_and_never_worse(small):
    # a crude reduction (d=4): the shortlist of the whole base re-ranked in the original space is exact
    row = evaluate_pipeline(small, "Flat", PCA(), n_components=4, rerank_k=small.nb, n_single=1)
    assert row["1-R@1"] < 1.0
    for c in RECALL_COLS:
        assert row["rerank_" + c] == 1.0
    row2 = evaluate_pipeline(small, "Flat", PCA(), n_components=4, rerank_k=200, n_single=1)
    assert row2["rerank_10-R@10"] >= row2["10-R@10"] and row2["rerank_k"] == 200


def test_rerank_matches_numpy_brute_force(small):
    pipe = build_pipeline(small, "Flat", PCA(), n_components=4)
    _, Ishort = pipe.index_.search(pipe.reduce(small.xq), 50)
    D, I = pipe.search(small.xq, 10, rerank_k=50)
    xb = np.asarray(small.xb, dtype=np.float64)
    ref = ((small.xq[:, None, :] - xb[Ishort]) ** 2).sum(-1)
    order = np.argsort(ref, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(I, np.take_along_axis(Ishort, order, 1))
    np.testing.assert_allclose(D, np.take_along_axis(ref, order, 1), rtol=1e-4)


def test_search_errors(small):
    with pytest.raises(ValueError, match="'efSearch' does not apply.*nprobe"):
        build_pipeline(small, "IVF8,Flat", search_params={"efSearch": 10})
    pipe = build_pipeline(small, "Flat")
    with pytest.raises(ValueError, match="rerank_k=5 must be >= k=10"):
        pipe.search(small.xq, 10, rerank_k=5)
    with pytest.raises(ValueError, match="dimension mismatch"):
        pipe.search(small.xq[:, :16], 10)
    with pytest.raises(ValueError, match="larger than"):
        pipe.search(small.xq, 601)
    with pytest.raises(ValueError, match="takes no n_components"):
        evaluate_pipeline(small, "Flat", None, n_components=8)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        IndexPipeline("Flat").search(small.xq, 1)


def test_index_and_lattice_pipelines_share_one_query_check(small):
    """The fitted check and the queries' dimension check live once, in SearchPipeline."""
    from sklearn.exceptions import NotFittedError

    from rae_explore.index.lattice import LatticePipeline
    from rae_explore.index.pipeline import SearchPipeline

    for pipe in (IndexPipeline("Flat", "pca", n_components=8), LatticePipeline(16, "pca", n_components=8)):
        assert isinstance(pipe, SearchPipeline)
        assert "_check_fitted" not in type(pipe).__dict__ and "_prepare_queries" not in type(pipe).__dict__
        with pytest.raises(NotFittedError, match=f"this {type(pipe).__name__} is not fitted yet"):
            pipe.reduce(small.xq)
        pipe.fit(small.xb)
        with pytest.raises(ValueError, match="the queries have 10 columns but the pipeline was fitted on 32-d"):
            pipe.reduce(small.xq[:, :10])
