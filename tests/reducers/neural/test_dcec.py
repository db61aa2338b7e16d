"""DCEC: Student-t soft assignments, DEC's target, the KL term; entropy and KL fall while training."""

import numpy as np
import pytest
import torch

from rae_explore.reducers.neural.dcec import DCEC, kl_divergence, soft_assignment, target_distribution


def _blobs(n=400, d=16, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = 4 * rng.standard_normal((k, d))
    return (centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))).astype(np.float32)


def test_soft_assignment_and_target_against_the_formulas():
    rng = np.random.default_rng(0)
    z, mu = rng.standard_normal((7, 3)), rng.standard_normal((4, 3))
    for dof in (1.0, 3.0):
        d2 = ((z[:, None] - mu[None]) ** 2).sum(-1)
        q = (1 + d2 / dof) ** (-(dof + 1) / 2)
        q /= q.sum(1, keepdims=True)
        got = soft_assignment(torch.as_tensor(z), torch.as_tensor(mu), dof).numpy()
        np.testing.assert_allclose(got, q, rtol=1e-10)
    p = q ** 2 / q.sum(0)
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(target_distribution(torch.as_tensor(q)).numpy(), p, rtol=1e-10)
    kl = (p * np.log(p / q)).sum(1).mean()
    assert float(kl_divergence(torch.as_tensor(p), torch.as_tensor(q))) == pytest.approx(kl, rel=1e-6)
    assert (p.max(1) >= q.max(1) - 1e-12).all()  # the target sharpens the assignments


def test_assignments_sum_to_one_and_entropy_and_kl_fall():
    X = _blobs()
    dc = DCEC(4, n_clusters=4, gamma=1.0, hidden=32, max_epochs=40, pretrain_epochs=10, update_interval=20,
              tol=0.0, batch_size=64, lr=3e-3, random_state=0, device="cpu").fit(X)
    Q = dc.predict_proba(X)
    assert Q.shape == (len(X), 4) and Q.dtype == np.float32
    np.testing.assert_allclose(Q.sum(1), 1.0, rtol=1e-5)
    assert dc.cluster_centers_.shape == (4, 4) and dc.labels_.shape == (len(X),)
    np.testing.assert_array_equal(dc.predict(X), Q.argmax(1))
    assert len(dc.history_) <= 40  # max_epochs bounds pretraining and clustering together
    phases = [r["phase"] for r in dc.history_]
    assert phases[0] == "pretrain" and phases[-1] == "cluster"
    cl = [r for r in dc.history_ if r["phase"] == "cluster"]
    assert cl[-1]["entropy"] < cl[0]["entropy"]
    assert cl[-1]["kl"] < cl[0]["kl"]
    steps = [r["step"] for r in dc.history_]
    assert steps == sorted(steps)  # one step count across both phases


def test_label_change_stop():
    X = _blobs()
    dc = DCEC(4, n_clusters=4, hidden=32, max_epochs=50, pretrain_epochs=5, update_interval=7, tol=0.5,
              batch_size=64, random_state=0, device="cpu").fit(X)
    cl = [r for r in dc.history_ if r["phase"] == "cluster"]
    assert len(cl) < 50 and cl[-1]["delta_label"] < 0.5  # fewer than half the rows moved: stopped


@pytest.mark.parametrize("bad, match", [
    ({"gamma": -0.1}, "gamma must be >= 0"),
    ({"n_clusters": 0}, "n_clusters must be an integer >= 1"),
    ({"n_clusters": 500}, "n_clusters=500 is larger than the number of training rows"),
    ({"dof": 0.0}, "dof must be > 0"),
    ({"update_interval": 0}, "update_interval must be an integer >= 1"),
    ({"tol": 2.0}, "tol must be <= 1"),
])
def test_bad_parameters(bad, match):
    with pytest.raises(ValueError, match=match):
        DCEC(4, device="cpu", **bad).fit(_blobs())
