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


def test_batch_source_gathers_memory_mapped_rows_in_order(rng, tmp_path):
    from rae_explore.reducers.neural.training import BatchSource

    X = rng.standard_normal((40, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    on_host = BatchSource(mm)
    assert not on_host.on_device and BatchSource(X).on_device
    assert not BatchSource(X, max_device_bytes=10).on_device  # too large for the budget: gathered per batch
    rows = np.array([7, 2, 39, 2])
    np.testing.assert_array_equal(on_host.take(rows).numpy(), X[rows])
    np.testing.assert_array_equal(BatchSource(X).take(torch.as_tensor(rows)).numpy(), X[rows])
    got = [(r.tolist(), xb.shape[0]) for r, xb in on_host.blocks(np.arange(5), 2)]
    assert got == [([0, 1], 2), ([2, 3], 2), ([4], 1)]  # the last partial block is kept


def test_rows_pass_rows_on_step_and_loss_terms(rng):
    X = _linear_problem(rng)
    seen, steps = set(), []

    def loss(model, xb, rows):
        if model.training:
            seen.update(rows.tolist())
        l = mse(model, xb)
        return l, {"twice": 2 * float(l.detach())}

    train, val = np.arange(0, 150), np.arange(150, 203)
    h = fit_torch(_model(), loss, X, max_epochs=4, batch_size=32, rows=train, val_rows=val, pass_rows=True,
                  on_step=lambda s, m: steps.append(s) or s == 9, patience=10)
    assert seen <= set(train.tolist())  # the held-out rows never enter a batch
    assert steps[-1] == 9 and h[-1]["step"] == 9  # on_step stopped it before step 10
    assert all(r["twice"] == pytest.approx(2 * r["loss"]) for r in h)
    assert all("val_loss" in r for r in h)
    with pytest.raises(ValueError, match="X_val or val_rows, not both"):
        fit_torch(_model(), mse, X, steps=1, X_val=X, val_rows=val)


def test_host_batches_train_exactly_like_device_batches(rng):
    X = _linear_problem(rng)
    h1 = fit_torch(m1 := _model(2), mse, X, max_epochs=3, batch_size=40, random_state=1)
    h2 = fit_torch(m2 := _model(2), mse, X, max_epochs=3, batch_size=40, random_state=1, max_device_bytes=0)
    assert [r["loss"] for r in h1] == pytest.approx([r["loss"] for r in h2], rel=1e-6)
    torch.testing.assert_close(m1.weight, m2.weight)


def test_riemannian_adam_is_available():
    from rae_explore.reducers.neural.training import make_optimizer

    opt = make_optimizer("riemannian_adam", _model().parameters(), 1e-3)
    assert type(opt).__name__ == "RiemannianAdam"


def test_lr_schedule_sets_each_epochs_rate_with_one_optimizer(rng):
    X = _linear_problem(rng)
    rates = [0.1, 0.1, 0.05, 0.01]
    h = fit_torch(_model(), mse, X, max_epochs=4, batch_size=64, lr=rates[0], optimizer="sgd", scheduler=None,
                  lr_schedule=rates.__getitem__)
    assert [r["lr"] for r in h] == pytest.approx(rates)
    # one optimiser keeps SGD's momentum across epochs; a fresh one per epoch (restarted momentum) trains differently
    m1, m2 = _model(), _model()
    fit_torch(m1, mse, X, max_epochs=4, batch_size=64, lr=0.1, optimizer="sgd", scheduler=None,
              lr_schedule=rates.__getitem__, random_state=5)
    for lr in rates:
        fit_torch(m2, mse, X, max_epochs=1, batch_size=64, lr=lr, optimizer="sgd", scheduler=None, random_state=5)
    assert not all(torch.allclose(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    with pytest.raises(ValueError, match="pass scheduler=None with it"):
        fit_torch(_model(), mse, X, max_epochs=1, lr_schedule=rates.__getitem__)
    with pytest.raises(TypeError, match="lr_schedule must be a callable"):
        fit_torch(_model(), mse, X, max_epochs=1, scheduler=None, lr_schedule=0.1)
    with pytest.raises(ValueError, match=r"lr_schedule\(0\) gave -1.0"):
        fit_torch(_model(), mse, X, max_epochs=1, scheduler=None, lr_schedule=lambda e: -1.0)
