"""One-pass moments: equal to numpy on the whole array, block by block, merged, and on a memory map."""

import numpy as np
import pytest

from rae_explore.reducers.moments import Moments, moments


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    # far from the origin (SIFT-like offsets), where a naive sum of x x^T loses digits
    return (rng.standard_normal((1000, 12)) * 3 + 1e4).astype(np.float32)


def test_equal_to_numpy_in_any_blocking(X):
    X64 = X.astype(np.float64)
    want_mean = X64.mean(axis=0)
    want_scatter = (X64 - want_mean).T @ (X64 - want_mean)
    for block in (1000, 333, 7):
        m = moments(X, block_rows=block)
        assert m.n == 1000
        np.testing.assert_allclose(m.mean, want_mean, rtol=1e-12)
        np.testing.assert_allclose(m.scatter(), want_scatter, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(m.scatter(center=False), X64.T @ X64, rtol=1e-12)
        np.testing.assert_allclose(m.covariance(), np.cov(X64, rowvar=False), rtol=1e-9, atol=1e-9)


def test_merge_of_disjoint_parts_equals_one_pass(X):
    whole = moments(X)
    parts = [moments(X[a:b]) for a, b in ((0, 10), (10, 600), (600, 1000))]
    merged = Moments(12)
    for p in parts:
        merged.merge(p)
    assert merged.n == whole.n
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.scatter(), whole.scatter(), rtol=1e-9, atol=1e-6)


def test_memory_map_is_read_in_blocks(X, tmp_path, monkeypatch):
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    seen = []
    orig = Moments.update
    monkeypatch.setattr(Moments, "update", lambda self, B: (seen.append(len(B)), orig(self, B))[1])
    m = moments(mm, block_rows=256)
    assert seen == [256, 256, 256, 232]
    np.testing.assert_allclose(m.mean, X.astype(np.float64).mean(axis=0), rtol=1e-12)


def test_bad_input_is_named():
    m = Moments(3)
    with pytest.raises(ValueError, match="no rows seen"):
        m.mean
    with pytest.raises(ValueError, match="dimension 3"):
        m.update(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN or inf"):
        m.update(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="dimensions differ"):
        m.merge(Moments(4))
    with pytest.raises(ValueError, match="too few"):
        Moments(3).update(np.ones((1, 3))).covariance()
    with pytest.raises(ValueError, match="block_rows must be a positive integer"):
        moments(np.ones((4, 3)), block_rows=0)


def test_blocks_are_checked_and_preprocessed_with_global_row_numbers(X):
    from rae_explore.vectors import l2_normalize

    bad = X.copy()
    bad[700, 3] = np.inf
    with pytest.raises(ValueError, match="first at row 1700"):  # offset: rows of a larger base
        moments(bad, block_rows=256, offset=1000)
    m = moments(X, block_rows=300, preprocess=l2_normalize)
    U = l2_normalize(X).astype(np.float64)
    np.testing.assert_allclose(m.scatter(center=False), U.T @ U, rtol=1e-9)


def test_check_moments_fit_names_the_problem(X):
    from rae_explore.reducers import DimensionWarning, make_reducer
    from rae_explore.reducers.moments import check_moments_fit

    m = moments(X)
    pca = make_reducer("pca", n_components=5)
    assert check_moments_fit(pca, m) is m and pca.n_features_in_ == 12
    with pytest.raises(ValueError, match="n_components=13 is larger than the input dimension"):
        check_moments_fit(make_reducer("pca", n_components=13), m)
    with pytest.raises(ValueError, match="exceeds the 3 rows"):
        check_moments_fit(make_reducer("pca", n_components=5), moments(X[:3]))
    with pytest.raises(ValueError, match="hold 1 sample"):
        check_moments_fit(pca, moments(X[:1]))
    with pytest.raises(TypeError, match="needs a Moments"):
        check_moments_fit(pca, X)
    with pytest.warns(DimensionWarning):
        check_moments_fit(make_reducer("pca", n_components=12), m)
