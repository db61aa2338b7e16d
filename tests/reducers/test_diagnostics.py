"""Metrics against hand-made tables and numpy references."""

import numpy as np
import pytest

from rae_explore.reducers.diagnostics import condition_number, reconstruction_mse, singular_values


def test_singular_values_match_numpy(rng):
    W = rng.standard_normal((5, 9))
    np.testing.assert_allclose(singular_values(W), np.linalg.svd(W, compute_uv=False), rtol=1e-12)
    import torch

    np.testing.assert_allclose(singular_values(torch.as_tensor(W)), np.linalg.svd(W, compute_uv=False), rtol=1e-12)


def test_condition_number_known_cases(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((8, 3)))
    assert condition_number(Q.T) == pytest.approx(1.0)
    assert condition_number(np.diag([3.0, 1.0, 0.5])) == pytest.approx(6.0)
    assert condition_number(np.array([[1.0, 0.0], [0.0, 0.0]])) == float("inf")
    with pytest.raises(ValueError, match="NaN"):
        condition_number(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="2-d"):
        singular_values(np.ones(3))


def test_reconstruction_mse_is_torch_mseloss(rng):
    import torch

    X, Y = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    ref = float(torch.nn.MSELoss()(torch.as_tensor(Y), torch.as_tensor(X)))
    assert reconstruction_mse(X, Y) == pytest.approx(ref, rel=1e-12)
    assert reconstruction_mse(X, X) == 0.0
    with pytest.raises(ValueError, match="shape"):
        reconstruction_mse(X, Y[:3])
