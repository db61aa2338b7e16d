"""evaluate(): the row format and its numbers; sweep(): grid, resume, atomic results, executors."""

import json

import numpy as np
import pytest

from rae_explore.experiments.evaluate import evaluate
from rae_explore.neighbors.knn import knn_search
from rae_explore.neighbors.metrics import recall_n_at_m, top_k_accuracy
from rae_explore.reducers import DimensionWarning, Reducer, make_reducer


class _Spy(Reducer):
    """Records the row norms it is fitted on; keeps the first n_components coordinates."""

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        X = self._check_fit_X(X)
        self.fit_norms_ = np.linalg.norm(X, axis=1)
        return self

    def transform(self, X):
        return self._check_transform_X(X)[:, : self.n_components].copy()


def test_row_format_and_values(tiny):
    row = evaluate(make_reducer("pca", n_components=6, random_state=0), tiny, ks=(1, 5, 10), self_eval=True)
    expected = {"method", "params", "n_components", "metric", "dataset", "nb", "nq", "d", "top_k@1", "top_k@5",
                "top_k@10", "1-R@1", "1-R@10", "1-R@100", "train_top_k@1", "train_top_k@5", "train_top_k@10",
                "fit_s", "transform_s", "condition_number", "reconstruction_mse"}
    assert set(row) == expected
    assert row["method"] == "pca" and row["n_components"] == 6 and row["metric"] == "l2"
    assert json.loads(row["params"])["n_components"] == 6
    assert row["condition_number"] == pytest.approx(1.0, abs=1e-5) and np.isnan(row["reconstruction_mse"])
    assert row["fit_s"] > 0 and row["transform_s"] > 0
    # the numbers are those of the metrics on an independent k-NN
    pca = make_reducer("pca", n_components=6, random_state=0).fit(tiny.xb)
    gt = knn_search(tiny.xq, tiny.xb, 100)[1]
    I = knn_search(pca.transform(tiny.xq), pca.transform(tiny.xb), 100)[1]
    assert row["top_k@5"] == top_k_accuracy(gt, I, 5)
    assert row["1-R@10"] == recall_n_at_m(gt, I, 1, 10)
    assert 0 < row["top_k@10"] < 1


def test_distance_preserving_map_is_perfect(tiny):
    with pytest.warns(DimensionWarning):
        row = evaluate(make_reducer("pca", n_components=tiny.d), tiny, ks=(1, 10))
    assert row["top_k@1"] == row["top_k@10"] == row["1-R@1"] == 1.0


def test_cosine_fits_on_unit_vectors_and_rae_reports_reconstruction(tiny):
    spy = _Spy(4)
    row = evaluate(spy, tiny, ks=(1,), metric="cosine")
    np.testing.assert_allclose(spy.fit_norms_, 1.0, rtol=1e-5)
    assert row["metric"] == "cosine"
    r = evaluate("rae", tiny, ks=(1,), params={"n_components": 8, "solver": "closed_form"})
    assert r["method"] == "rae" and 0 < r["reconstruction_mse"] < np.mean(tiny.xb ** 2)
    assert np.isfinite(r["condition_number"])
    # computed a block at a time: the same as one reconstruction of the whole base
    from rae_explore.reducers.diagnostics import reconstruction_mse

    rae = make_reducer("rae", n_components=8, solver="closed_form").fit(tiny.xb)
    whole = reconstruction_mse(tiny.xb, rae.transform(tiny.xb) @ rae.decoder_.T + rae.decoder_intercept_)
    small = evaluate(rae, tiny, ks=(1,), block_rows=7)
    assert small["reconstruction_mse"] == pytest.approx(whole, rel=1e-5)


def test_uses_the_datasets_ground_truth_when_wide_enough(tiny):
    fake = tiny.with_ground_truth(200)  # kmax = 100 (1-R@100): 2 kmax columns, for the ties
    fake = type(fake)(**{**fake.__dict__, "gt": fake.gt[::-1].copy()})  # wrong on purpose
    with pytest.warns(DimensionWarning):
        assert evaluate(_Spy(32), fake, ks=(1,))["top_k@1"] < 0.5  # the stored gt was used
        assert evaluate(_Spy(32), tiny, ks=(1,))["top_k@1"] == 1.0


def test_errors(tiny):
    with pytest.raises(ValueError, match="k=601 is larger than the number of base vectors"):
        evaluate(_Spy(4), tiny, ks=(601,))
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluate(_Spy(4), tiny, metric="manhattan")
    with pytest.raises(ValueError, match="unknown reducer"):
        evaluate("pcaa", tiny)
    with pytest.raises(TypeError, match="dataset must be"):
        evaluate(_Spy(4), tiny.xb)


def test_blocked_transform_gives_the_same_row(tiny):
    a = evaluate(make_reducer("rp", n_components=8, random_state=0), tiny, ks=(1, 10))
    b = evaluate(make_reducer("rp", n_components=8, random_state=0), tiny, ks=(1, 10), block_rows=64)
    assert a["top_k@10"] == b["top_k@10"] and a["1-R@10"] == b["1-R@10"]


def test_exact_duplicates_in_the_base_are_not_misses():
    """Every base row twice: which twin ranks first is arbitrary, so PCA at full dimension scores 1.0."""
    from rae_explore.data.datasets import Dataset

    rng = np.random.default_rng(0)
    u = rng.standard_normal((150, 16)).astype(np.float32)
    xq = (u[:40] + 0.01 * rng.standard_normal((40, 16))).astype(np.float32)
    ds = Dataset("twins", xb=np.concatenate([u, u]), xq=xq, metric="l2")
    with pytest.warns(DimensionWarning):
        row = evaluate(make_reducer("pca", n_components=16), ds, ks=(1, 5, 10), recalls=())
    with pytest.warns(DimensionWarning):
        pca = make_reducer("pca", n_components=16).fit(ds.xb)
    assert row["top_k@1"] == row["top_k@5"] == row["top_k@10"] == 1.0
    I = knn_search(pca.transform(xq), pca.transform(ds.xb), 10)[1]
    assert top_k_accuracy(knn_search(xq, ds.xb, 10)[1], I, 1) < 0.9  # scored by ids alone, twins are misses


@pytest.mark.parametrize("method,params", [("pca", {}), ("pca", {"center": False}),
                                           ("rae", {"solver": "closed_form", "alpha": 1e-4}),
                                           ("rae", {"solver": "closed_form", "alpha": 1e-4, "normalize": True})])
def test_a_memory_mapped_base_is_fitted_from_streamed_moments(tiny, tmp_path, monkeypatch, method, params):
    from rae_explore.data.datasets import Dataset
    from rae_explore.reducers.moments import Moments

    np.save(tmp_path / "xb.npy", tiny.xb)
    mm = Dataset("tiny-mm", xb=np.load(tmp_path / "xb.npy", mmap_mode="r"), xq=tiny.xq, metric="l2")
    assert isinstance(mm.xb, np.memmap)
    seen = []
    orig = Moments.update
    monkeypatch.setattr(Moments, "update", lambda self, B: (seen.append(len(B)), orig(self, B))[1])
    got = evaluate(make_reducer(method, n_components=6, **params), mm, ks=(1, 10), recalls=((1, 10),), block_rows=256)
    assert seen == [256, 256, 88]  # one pass in blocks, no whole copy
    ref = evaluate(make_reducer(method, n_components=6, **params), tiny, ks=(1, 10), recalls=((1, 10),))
    for col in ("top_k@1", "top_k@10", "1-R@10"):
        assert abs(got[col] - ref[col]) <= 0.02, col  # equal up to float rounding of near ties
    if method == "rae":
        assert got["reconstruction_mse"] == pytest.approx(ref["reconstruction_mse"], rel=1e-4)


def test_a_memory_mapped_base_with_nan_names_the_row(tiny, tmp_path):
    from rae_explore.data.datasets import Dataset

    xb = tiny.xb.copy()
    xb[345, 2] = np.nan
    np.save(tmp_path / "xb.npy", xb)
    mm = Dataset("bad", xb=np.load(tmp_path / "xb.npy", mmap_mode="r"), xq=tiny.xq, metric="l2")
    with pytest.raises(ValueError, match="first at row 345"):
        evaluate(make_reducer("pca", n_components=4), mm, ks=(1,), recalls=(), block_rows=100)


def test_ties_false_scores_by_ids_and_the_width_does_not_depend_on_a_cached_gt():
    """The twins of the test above: ``ties=False`` scores by ids (the reference's way), and a narrow
    ``ds.gt`` left by an earlier call does not narrow the tie-aware score."""
    import dataclasses

    from rae_explore.data.datasets import Dataset

    rng = np.random.default_rng(0)
    u = rng.standard_normal((150, 16)).astype(np.float32)
    xq = (u[:40] + 0.01 * rng.standard_normal((40, 16))).astype(np.float32)
    ds = Dataset("twins", xb=np.concatenate([u, u]), xq=xq, metric="l2")
    with pytest.warns(DimensionWarning):
        by_id = evaluate(make_reducer("pca", n_components=16), ds, ks=(1,), recalls=(), ties=False)
    assert by_id["top_k@1"] < 0.9
    narrow = dataclasses.replace(ds, gt=ds.with_ground_truth(1).gt)
    assert narrow.gt.shape[1] == 1
    with pytest.warns(DimensionWarning):
        assert evaluate(make_reducer("pca", n_components=16), narrow, ks=(1,), recalls=())["top_k@1"] == 1.0
