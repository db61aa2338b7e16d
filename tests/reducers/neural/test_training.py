"""The shared torch training loop."""

import numpy as np
import pytest
import torch

from rae_explore.reducers.neural.training import fit_torch, resolve_device, seeded


def _linear_problem(rng):
    X = rng.standard_normal((203, 6)).astype(np.float32)
    return X


def _model(seed=0):
    with seeded(seed):
        return torch.nn.Linear(6, 6)


def mse(model, xb):
    return ((model(xb) - xb) ** 2).mean()


def test_loss_decreases_and_history_shape(rng):
    X = _linear_problem(rng)
    m = _model()
    h = fit_torch(m, mse, X, max_epochs=60, batch_size=50, lr=3e-2)
    assert len(h) == 60 and h[-1]["step"] == 60 * 5  # 203 rows / 50 = 5 batches: the partial one counts
    assert h[-1]["loss"] < 0.1 * h[0]["loss"]
    assert h[-1]["lr"] == pytest.approx(0, abs=1e-9)  # cosine annealed to zero
    assert all(r["seconds"] >= 0 for r in h)


def test_steps_mode_and_reproducibility(rng):
    X = _linear_problem(rng)
    h1 = fit_torch(m1 := _model(1), mse, X, steps=17, batch_size=64, random_state=3)
    h2 = fit_torch(m2 := _model(1), mse, X, steps=17, batch_size=64, random_state=3)
    assert h1[-1]["step"] == 17 and len(h1) == 5  # 4 batches per pass: 4+4+4+4+1
    for a, b in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    fit_torch(m3 := _model(1), mse, X, steps=17, batch_size=64, random_state=4)
    assert not torch.equal(m3.weight, m1.weight)


def test_random_state_none_draws_fresh_randomness(rng):
    """``seeded(None)`` and ``fit_torch(random_state=None)`` are not a fixed seed (scikit-learn's meaning)."""
    assert not torch.equal(_model(None).weight, _model(None).weight)
    torch.testing.assert_close(_model(0).weight, _model(0).weight, rtol=0, atol=0)
    X = _linear_problem(rng)
    h1 = fit_torch(_model(1), mse, X, steps=8, batch_size=16, random_state=None)
    h2 = fit_torch(_model(1), mse, X, steps=8, batch_size=16, random_state=None)
    assert h1[-1]["loss"] != h2[-1]["loss"]  # same init, different batch orders


def test_early_stopping_restores_best(rng):
    X = _linear_problem(rng)
    m = _model()
    # a large lr with SGD diverges after a while: early stopping must keep the best weights
    h = fit_torch(m, mse, X, max_epochs=50, batch_size=203, lr=0.5, optimizer="sgd", scheduler=None,
                  X_val=X[:50], patience=3)
    best = min(r["val_loss"] for r in h)
    with torch.no_grad():
        assert float(mse(m, torch.as_tensor(X[:50]))) == pytest.approx(best, rel=1e-5)


def test_callback_and_errors(rng):
    X = _linear_problem(rng)
    h = fit_torch(_model(), mse, X, max_epochs=2, callback=lambda e, m: {"custom": e * 10})
    assert [r["custom"] for r in h] == [10, 20]
    with pytest.raises(ValueError, match="exactly one of steps / max_epochs"):
        fit_torch(_model(), mse, X)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit_torch(_model(), mse, X, steps=1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="patience .* needs X_val"):
        fit_torch(_model(), mse, X, steps=1, patience=2)
    assert resolve_device("cpu") == "cpu" and resolve_device("auto") in ("cpu", "cuda")
