"""Blockwise transform: equal to one transform, into memory or into .npy/.fvecs files."""

import numpy as np
import pytest

from rae_explore.data.formats import mmap_vecs
from rae_explore.reducers import make_reducer
from rae_explore.reducers.blocks import transform_blocks


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 12)).astype(np.float32)
    return make_reducer("pca", n_components=4, random_state=0).fit(X), X


@pytest.mark.parametrize("out", [None, "z.npy", "z.fvecs"])
def test_equal_to_one_transform(fitted, tmp_path, out):
    red, X = fitted
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    Z = transform_blocks(red, mm, block_rows=300, out=None if out is None else tmp_path / out)
    np.testing.assert_allclose(np.asarray(Z), red.transform(X), rtol=1e-5, atol=1e-6)
    assert Z.dtype == np.float32 and Z.shape == (1000, 4)
    if out == "z.fvecs":
        np.testing.assert_array_equal(np.asarray(mmap_vecs(tmp_path / out)), np.asarray(Z))
    if out is not None:
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_bad_output_and_interrupted_write(fitted, tmp_path):
    red, X = fitted
    with pytest.raises(ValueError, match=r"\.npy or \.fvecs"):
        transform_blocks(red, X, out=tmp_path / "z.csv")

    class Breaks:
        calls = 0

        def transform(self, B):
            Breaks.calls += 1
            if Breaks.calls == 3:
                raise RuntimeError("interrupted")
            return red.transform(B)

    with pytest.raises(RuntimeError, match="interrupted"):
        transform_blocks(Breaks(), X, block_rows=200, out=tmp_path / "z.npy")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
