"""rae_explore.validation: the one module of input checks."""

import numpy as np
import pytest
import scipy.sparse

from rae_explore.validation import as_float32, check_int, check_k, check_positive_int


@pytest.mark.parametrize("x, err, msg", [
    (scipy.sparse.eye(3), TypeError, "sparse"),
    (np.ones((2, 2), complex), ValueError, "Complex data not supported"),
    (np.array([["a", "b"]]), TypeError, "must hold numbers"),
    (np.ones(3), ValueError, "Reshape your data"),
    (np.ones((0, 3)), ValueError, "0 sample"),
    (np.ones((3, 0)), ValueError, "0 feature"),
    (np.array([[1.0, np.nan]]), ValueError, "NaN or inf in 1 row"),
])
def test_as_float32_names_the_problem(x, err, msg):
    with pytest.raises(err, match=msg):
        as_float32(x)


def test_as_float32_converts_and_keeps_float64_when_asked():
    x = as_float32([[1, 2], [3, 4]])
    assert x.dtype == np.float32 and x.flags.c_contiguous
    assert as_float32(np.ones((2, 2)), keep_float64=True).dtype == np.float64
    assert as_float32(np.array([[1, 2]], dtype=object)).dtype == np.float32
    with pytest.raises(ValueError, match="minimum of 3 is required"):
        as_float32(np.ones((2, 4)), min_samples=3)


def test_integer_checks():
    assert check_int(np.int64(3), "k", low=1, high=5) == 3
    with pytest.raises(TypeError, match="k must be an integer, got True"):
        check_int(True, "k")
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\], got 6"):
        check_int(6, "k", low=1, high=5)
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        check_positive_int(0, "steps")
    with pytest.raises(ValueError, match="larger than the number of base vectors"):
        check_k(11, 10)
