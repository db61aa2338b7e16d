"""Generated sets: the seeded Gaussian set and the SIFT-like files written at scale."""

import numpy as np
import pytest

from rae_explore.data.formats import mmap_vecs
from rae_explore.data.synthetic import sift_like, synthetic, write_sift_like_bvecs


def test_synthetic_is_seeded_and_low_dimensional():
    a, b = synthetic(d=16, nb=200, nq=10, intrinsic_dim=3, seed=1), synthetic(d=16, nb=200, nq=10, intrinsic_dim=3, seed=1)
    np.testing.assert_array_equal(a.xb, b.xb)
    s = np.linalg.svd(a.xb - a.xb.mean(0), compute_uv=False)
    assert s[3] < 0.1 * s[2]  # three directions carry the data


def test_sift_like_rows_do_not_depend_on_blocking():
    whole = sift_like(70000, d=32, intrinsic_dim=6, seed=3)
    assert whole.dtype == np.uint8 and whole.shape == (70000, 32)
    np.testing.assert_array_equal(sift_like(100, d=32, intrinsic_dim=6, seed=3, start=65500), whole[65500:65600])
    assert not np.array_equal(sift_like(50, d=32, intrinsic_dim=6, seed=3, stream=1), whole[:50])  # queries differ
    assert not np.array_equal(sift_like(50, d=32, intrinsic_dim=6, seed=4), whole[:50])


def test_sift_like_looks_like_sift_and_has_its_intrinsic_dimension():
    X = sift_like(5000, d=64, intrinsic_dim=5, seed=0).astype(np.float64)
    assert 0.2 < (X == 0).mean() < 0.8 and X.max() <= 255
    # a local PCA around a point: about intrinsic_dim directions carry its neighbourhood
    d2 = ((X - X[0]) ** 2).sum(1)
    nb = X[np.argsort(d2)[:200]]
    s = np.linalg.svd(nb - nb.mean(0), compute_uv=False) ** 2
    assert (np.cumsum(s) / s.sum() >= 0.9).argmax() + 1 <= 8


def test_write_sift_like_bvecs_is_the_same_rows(tmp_path):
    path = write_sift_like_bvecs(tmp_path / "s.bvecs", 70000, d=16, intrinsic_dim=4, seed=2)
    assert path.stat().st_size == 70000 * (4 + 16)
    X = mmap_vecs(path)
    np.testing.assert_array_equal(np.asarray(X[65530:65540]), sift_like(10, 16, 4, 2, start=65530))
    with pytest.raises(ValueError, match="intrinsic_dim"):
        sift_like(5, d=4, intrinsic_dim=5)
