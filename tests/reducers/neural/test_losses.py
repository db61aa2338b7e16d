"""KoLeo and INRP against hand computations; INRP's weight clip; the boundary estimate."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from rae_explore.reducers.neural.losses import (
    inrp_loss,
    inrp_weights,
    koleo_loss,
    mean_pairwise_distance,
    nearest_other,
)


def test_inrp_weights_follow_the_log_curve_and_are_clipped():
    b = 2.0
    d = torch.tensor([0.0, 1e-3, 0.5, 1.0, 2.0, 10.0])
    w = inrp_weights(d, b)
    # -ln(d/b): inf, 7.6, 1.386, 0.693, 0, -1.6  -> clipped to [0.01, 2]
    expected = [2.0, 2.0, math.log(4.0), math.log(2.0), 0.01, 0.01]
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(inrp_weights(d.numpy(), b), expected, rtol=1e-6)  # numpy input too
    assert float(inrp_weights(torch.tensor([0.1]), b, alpha=5.0, beta=0.5)) == pytest.approx(math.log(20.0))


def test_inrp_loss_equals_a_hand_computation():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [4.0, 4.0]])
    f = np.array([[0.0], [0.5], [2.0], [-1.0]])
    b = 2.5
    terms, W = [], np.zeros((4, 4))
    for i in range(4):
        for j in range(i + 1, 4):
            dij = np.linalg.norm(x[i] - x[j])
            w = min(2.0, max(0.01, -math.log(dij / b)))
            W[i, j] = W[j, i] = w
            terms.append(w * (np.sum((f[i] - f[j]) ** 2) - dij ** 2) ** 2)
    loss, Wt = inrp_loss(torch.tensor(f, dtype=torch.float64), torch.tensor(x, dtype=torch.float64), b,
                         return_weights=True)
    assert float(loss) == pytest.approx(np.mean(terms), rel=1e-10)
    np.testing.assert_allclose(Wt.numpy(), W, rtol=1e-12)


def test_inrp_gradient_reaches_the_codes_only():
    x = torch.randn(6, 4)
    f = torch.randn(6, 2, requires_grad=True)
    inrp_loss(f, x, 1.0).backward()
    assert f.grad.abs().sum() > 0 and x.grad is None


def test_koleo_equals_a_hand_computation_and_rewards_spread():
    z = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # nearest other distances: 1 (to row 2), 3 (to row 0), 1 (to row 0)
    expected = -np.mean(np.log(3 * np.array([1.0, 3.0, 1.0])))
    assert float(koleo_loss(z, eps=0.0)) == pytest.approx(expected, rel=1e-12)
    assert nearest_other(z).tolist() == [2, 0, 0]
    # minimising it moves points on the sphere apart
    torch.manual_seed(0)
    p = torch.nn.functional.normalize(torch.randn(40, 3) * torch.tensor([1.0, 0.1, 0.1]), dim=1).requires_grad_()
    before = torch.cdist(p.detach(), p.detach()).fill_diagonal_(9).min(1).values
    opt = torch.optim.SGD([p], lr=0.03)
    for _ in range(40):
        opt.zero_grad()
        koleo_loss(torch.nn.functional.normalize(p, dim=1)).backward()
        opt.step()
    q = torch.nn.functional.normalize(p.detach(), dim=1)
    after = torch.cdist(q, q).fill_diagonal_(9).min(1).values
    assert after.min() > before.min() and after.mean() > before.mean()


def test_mean_pairwise_distance_exact_and_sampled(rng):
    X = rng.standard_normal((300, 5)).astype(np.float32)
    assert mean_pairwise_distance(X) == pytest.approx(pdist(X.astype(np.float64)).mean(), rel=1e-6)
    est = mean_pairwise_distance(X, max_rows=100, random_state=0)
    assert est == pytest.approx(pdist(X.astype(np.float64)).mean(), rel=0.05) and est != mean_pairwise_distance(X)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="boundary must be > 0"):
        inrp_weights(torch.ones(2), 0.0)
    with pytest.raises(ValueError, match="beta must be <= 2.0"):
        inrp_weights(torch.ones(2), 1.0, alpha=2.0, beta=3.0)
    with pytest.raises(ValueError, match="z needs at least 2 rows"):
        koleo_loss(torch.ones(1, 3))
    with pytest.raises(ValueError, match="same batch"):
        inrp_loss(torch.ones(3, 2), torch.ones(4, 2), 1.0)
    with pytest.raises(ValueError, match="max_rows must be"):
        mean_pairwise_distance(np.ones((5, 2)), max_rows=1)
