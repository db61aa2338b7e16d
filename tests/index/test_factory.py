"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""


import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from rae_explore.data.synthetic import synthetic
from rae_explore.index import (
    IndexPipeline,
    TrainingSizeWarning,
    build_pipeline,
    evaluate_pipeline,
    make_index,
)
from rae_explore.index.factory import set_search_params


class _NeverFit(TransformerMixin, BaseEstimator):
    """A reducer whose fit fails the test: checks that cheap errors come before the reducer fit."""

    def __init__(self, n_components=None):
        self.n_components = n_components

    def fit(self, X, y=None):
        pytest.fail("the reducer was fitted before the index_factory string was checked")

    def transform(self, X):
        return X


def test_ivf_default_nprobe_is_visible_in_the_row(small):
    row = evaluate_pipeline(small, "IVF8,Flat", n_single=1)
    assert row["nprobe"] == 1 and row["search_params"] == "nprobe=1" and row["search_params_source"] == "default"
    given = evaluate_pipeline(small, "IVF8,Flat", search_params={"nprobe": 8}, n_single=1)
    assert given["nprobe"] == 8 and given["search_params_source"] == "given"
    assert given["1-R@1"] == 1.0 and given["1-R@1"] >= row["1-R@1"]  # all lists probed: exact


def test_hnsw_efsearch_and_nsg_search_l_are_read_back(small):
    h = build_pipeline(small, "HNSW16", search_params={"efSearch": 77})
    assert h.search_params_ == {"efSearch": 77}
    n = build_pipeline(small, "NSG16")
    n.set_search_params(search_L=40)
    assert n.search_params_ == {"search_L": 40}


# ---------------------------------------------------------------- errors
def test_bad_factory_string_names_examples():
    with pytest.raises(ValueError, match="cannot parse.*'IVF,Flatt'.*Examples"):
        make_index(32, "IVF,Flatt")
    with pytest.raises(TypeError, match="index_factory"):
        make_index(32, "")


def test_pq_m_not_dividing_d_lists_valid_m(small):
    with pytest.raises(ValueError, match=r"multiple of M.*\[1, 2, 4, 8, 16, 32\]"):
        make_index(32, "IVF16,PQ7")
    # on reduced vectors the message points at n_components, and fails before fitting the reducer
    with pytest.raises(ValueError, match=r"30-d vectors.*n_components"):
        IndexPipeline("PQ8", _NeverFit(), n_components=30).fit(small.xb)
    with pytest.raises(ValueError, match="multiple of M"):
        IndexPipeline("PQ7", None).fit(small.xb)


def test_training_set_too_small_raises_and_warns():
    ds = synthetic(d=8, nb=5000, nq=10, intrinsic_dim=4, seed=1)
    with pytest.raises(ValueError, match=r"training set too small.*IVF4096.*at most 128 lists \(e.g. IVF128\)"):
        build_pipeline(ds, "IVF4096,Flat")
    with pytest.warns(TrainingSizeWarning, match="faiss recommends >= 39"):
        build_pipeline(ds, "IVF256,Flat")  # 19.5 points per list: usable, but below faiss's advice


def test_pq_training_size_and_metric_errors(small):
    with pytest.raises(ValueError, match=r"PQ4x8 \(256 codewords.*PQ<M>x4"):
        build_pipeline(small, "PQ4")  # 600 vectors for 256 codewords: 2.3 per centroid
    with pytest.raises(ValueError, match="only the l2 metric"):
        make_index(32, "LSH", "cosine")


def test_small_training_set_warns_once_in_python_not_per_subquantizer_on_stderr(capfd):
    """faiss's k-means prints one C-level line per PQ sub-quantizer; we report it once, as a warning."""
    from rae_explore.data.synthetic import synthetic
    from rae_explore.index.factory import TrainingSizeWarning
    from rae_explore.index.pipeline import IndexPipeline

    ds = synthetic(d=32, nb=4000, nq=5, intrinsic_dim=8, seed=0)
    with pytest.warns(TrainingSizeWarning, match="PQ8x8"):
        IndexPipeline("PQ8np").fit(ds.xb)
    assert "WARNING clustering" not in capfd.readouterr().err


def test_numbers_faiss_crashes_on_are_refused_before_it_sees_them(small):
    with pytest.raises(ValueError, match=r"'HNSW1' has M \(neighbours per node\) = 1"):
        make_index(32, "HNSW1")
    idx = make_index(32, "HNSW8")
    with pytest.raises(ValueError, match="efSearch .* must be >= 1, got 0"):
        set_search_params(idx, {"efSearch": 0})
    ivf = make_index(32, "IVF4,Flat")
    with pytest.raises(ValueError, match="nprobe=8 is larger than the index's nlist=4"):
        set_search_params(ivf, {"nprobe": 8})
