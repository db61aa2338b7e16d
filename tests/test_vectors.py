"""rae_explore.vectors: the cosine rule."""

import numpy as np
import pytest

from rae_explore.data import synthetic
from rae_explore.vectors import for_metric, l2_normalize


def test_l2_normalize_copies_to_unit_rows():
    x = np.array([[3, 4], [0, 2]], dtype=np.int64)
    u = l2_normalize(x)
    assert u.dtype == np.float32 and u.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(u[0], [0.6, 0.8], rtol=1e-6)
    assert x[0, 0] == 3  # the input is untouched


def test_zero_rows_are_named_with_the_offset():
    with pytest.raises(ValueError, match="xb row 12 is the zero vector"):
        l2_normalize(np.array([[1.0, 0], [0, 0]]), "xb", offset=11)


def test_for_metric_normalises_only_under_cosine():
    x = np.ones((3, 2), np.float32) * 2
    assert for_metric(x, "l2") is x and for_metric(x, "ip") is x
    np.testing.assert_allclose(for_metric(x, "cosine"), np.full((3, 2), 2 ** -0.5), rtol=1e-6)


def test_dataset_prepared_applies_the_rule_and_drops_stale_ground_truth():
    ds = synthetic(d=8, nb=50, nq=5, seed=0).with_ground_truth(3)
    assert ds.prepared() is ds
    cos = ds.prepared("cosine")
    assert cos.metric == "cosine" and cos.gt is None
    np.testing.assert_allclose(np.linalg.norm(cos.xb, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(cos.xq, axis=1), 1, rtol=1e-5)
