"""NRAE: local decoder approximations by jvp, the neighbour graph, and the defining comparison with the Vanilla AE."""

import numpy as np
import pytest
import torch

from rae_explore.reducers.neural.nrae import (
    NRAE,
    local_reconstruction,
    neighbor_graph,
    neighborhood_reconstruction_error,
)
from rae_explore.reducers.neural.vanilla import VanillaAE


def _spiral(n, noise, seed):
    """The NRAE reference's toy manifold ("swiss_role" in loader/synthetic_dataset.py): one turn of a
    spiral, radius 0.1 -> 3, squashed by 0.6 vertically, ``n`` evenly spaced points plus Gaussian noise."""
    i = np.arange(n)
    r = 0.1 + i * (3.0 - 0.1) / (n - 1)
    theta = i * 2 * np.pi / n
    X = np.stack([r * np.cos(theta), 0.6 * r * np.sin(theta)], axis=1)
    return (X + noise * np.random.default_rng(seed).standard_normal(X.shape)).astype(np.float32)


class _Decoder(torch.nn.Module):
    """A smooth decoder in float64 for checking the jvp against finite differences."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ELU(), torch.nn.Linear(16, 5)).double()

    def decode_std(self, z):
        return self.net(z)


@pytest.mark.parametrize("approx, order", [("linear", 1), ("quadratic", 2)])
def test_local_reconstruction_is_the_taylor_expansion(approx, order):
    dec = _Decoder()
    z_c = torch.randn(3, 2, dtype=torch.float64)
    dz = 1e-2 * torch.randn(3, 4, 2, dtype=torch.float64)
    got = local_reconstruction(dec, z_c, z_c[:, None] + dz, approx)
    exact = dec.decode_std(z_c[:, None] + dz)
    err = (got - exact).abs().max().item()
    # the remainder of a Taylor expansion of order p is O(|dz|^(p+1))
    assert err < (1e-3 if order == 1 else 1e-5)
    with torch.no_grad():  # the quadratic term against central differences
        if order == 2:
            e = 1e-4
            v = dz[0, 0]
            fd = (dec.decode_std(z_c[0] + e * v) - 2 * dec.decode_std(z_c[0]) + dec.decode_std(z_c[0] - e * v)) / e**2
            q = local_reconstruction(dec, z_c[:1], z_c[:1, None] + v, "quadratic")[0, 0]
            lin = local_reconstruction(dec, z_c[:1], z_c[:1, None] + v, "linear")[0, 0]
            torch.testing.assert_close(2 * (q - lin), fd, rtol=1e-4, atol=1e-6)


def test_neighbor_graph_excludes_self_and_uses_training_rows(rng):
    X = rng.standard_normal((50, 4)).astype(np.float32)
    train, val = np.arange(0, 50, 2), np.arange(1, 50, 2)
    I = neighbor_graph(X, train, train, 3, False)
    assert np.isin(I, train).all() and not (I == train[:, None]).any()
    J = neighbor_graph(X, train, val, 3, False)
    d = ((X[val][:, None] - X[train][None]) ** 2).sum(-1)
    np.testing.assert_array_equal(J[:, 0], train[d.argmin(1)])


def test_nrae_reconstructs_neighbourhoods_better_than_the_vanilla_ae():
    """Issue 12's defining property, in the NRAE paper's own toy setting, over three seeds.

    The reference's "geometry preserving" experiment (configs/NRAEL_toy_geometry_preserving.yml):
    30 points of a spiral with noise 0.01, a 1-d code, ELU networks of width 512, Adam at 1e-3,
    a graph of 2 neighbours with 1 drawn per centre (the centre included) and the binary kernel's
    lambda = 2; the Vanilla AE gets the same network and budget. Our networks have one hidden
    layer each side (the reference three), and the budget is CI-sized: 700 full-batch steps
    instead of 2,001 epochs of two batches. The neighbour reconstruction error on the training
    graph (the neighbour term of Eq. 5) is then lower for NRAE with every seed; measured while
    building this (2 loaded cores): 0.162/0.157/0.160/0.160 against 0.177/0.181/0.190/0.193
    (seeds 0-3); after 1,000 steps 0.151/0.150/0.150 against 0.188/0.188/0.195. What NRAE does not
    buy: new points' own reconstruction (a dense noiseless test curve) is worse than the Vanilla
    AE's at both budgets (e.g. 0.133 vs 0.125 at 1,000 steps, seed 0), and held-out centres with
    their neighbours among the training rows favour NRAE only at the longer budget (0.142/0.136/
    0.138 against 0.149/0.145/0.148), so neither is asserted here.
    """
    kw = {"hidden": 512, "activation": "elu", "max_epochs": 700, "batch_size": 30, "lr": 1e-3,
          "validation_fraction": 0.0, "patience": None, "device": "cpu"}
    for seed in range(3):
        X = _spiral(30, 0.01, seed)
        nr = NRAE(1, n_neighbors=2, n_sampled=1, kernel_lambda=2.0, random_state=seed, **kw).fit(X)
        ae = VanillaAE(1, random_state=seed, **kw).fit(X)
        e_nr = neighborhood_reconstruction_error(nr, X, n_neighbors=2)
        e_ae = neighborhood_reconstruction_error(ae, X, n_neighbors=2)
        assert e_nr < 0.95 * e_ae, (seed, e_nr, e_ae)
        if seed == 0:
            h = nr.history_
            assert nr.neighbors_.shape == (30, 2) and len(h) == 700
            assert h[-1]["neighbors"] < 0.5 * h[0]["neighbors"] and h[-1]["center"] < h[0]["center"]


def test_neighborhood_error_with_a_reference_set(X):
    nr = NRAE(4, hidden=16, max_epochs=2, random_state=0, device="cpu", n_neighbors=3).fit(X)
    # each row's nearest reference row is itself: dz = 0, the plain reconstruction error
    m = nr.module_
    with torch.no_grad():
        xs = m.prep(torch.as_tensor(X))
        mse = float(((m.decode_std(m.encode_std(xs)) - xs) ** 2).mean())
    assert neighborhood_reconstruction_error(nr, X, n_neighbors=1, reference=X) == pytest.approx(mse, rel=1e-5)
    # held-out centres, neighbours among other rows: the k nearest of the reference, as computed by hand
    A, B = X[:30], X[30:]
    got = neighborhood_reconstruction_error(nr, A, n_neighbors=2, reference=B)
    nbr = np.argsort(((A[:, None] - B[None]) ** 2).sum(-1), axis=1)[:, :2]
    with torch.no_grad():
        za, zb = m.encode_std(m.prep(torch.as_tensor(A))), m.encode_std(m.prep(torch.as_tensor(B)))
        rec = local_reconstruction(m, za, zb[torch.as_tensor(nbr)])
        want = float(((rec - m.prep(torch.as_tensor(B))[torch.as_tensor(nbr)]) ** 2).mean())
    assert got == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match=r"n_neighbors must be an integer in \[1, len\(reference\) = 5\]"):
        neighborhood_reconstruction_error(nr, A, n_neighbors=6, reference=B[:5])


def test_centre_term_comes_from_the_jvp_primal():
    dec = _Decoder()
    z_c = torch.randn(4, 2, dtype=torch.float64)
    z_n = z_c[:, None] + 0.1 * torch.randn(4, 3, 2, dtype=torch.float64)
    for approx in ("linear", "quadratic"):
        rec, f_c = local_reconstruction(dec, z_c, z_n, approx, return_centre=True)
        torch.testing.assert_close(f_c, dec.decode_std(z_c))
        torch.testing.assert_close(rec, local_reconstruction(dec, z_c, z_n, approx))


def test_auto_epochs_count_the_neighbours(X):
    """NRAE encodes 1 + n_sampled rows per training row: "auto" gives it that many times fewer passes."""
    from rae_explore.reducers.neural.base import auto_epochs

    assert auto_epochs(4050) == 30 and auto_epochs(4050, 2) == 15 and auto_epochs(90000, 2) == 4
    nr = NRAE(4, hidden=8, n_neighbors=4, n_sampled=2, random_state=0, device="cpu", patience=None).fit(X)
    assert nr.training_params_["max_epochs"] == 10 and len(nr.history_) == 10


def test_neighborhood_reconstruction_error_by_hand(X):
    nr = NRAE(4, hidden=16, max_epochs=2, random_state=0, device="cpu", n_neighbors=3).fit(X)
    Xs = X[:40]
    got = neighborhood_reconstruction_error(nr, Xs, n_neighbors=3)
    m = nr.module_
    d2 = ((Xs[:, None] - Xs[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    nbr = np.argsort(d2, axis=1)[:, :3]
    with torch.no_grad():
        xs = m.prep(torch.as_tensor(Xs))
        z = m.encode_std(xs)
        dec = m.decode_std
        errs = []
        for i in range(len(Xs)):
            for j in nbr[i]:
                _, jv = torch.func.jvp(dec, (z[i:i + 1],), (z[j:j + 1] - z[i:i + 1],))
                errs.append(float(((dec(z[i:i + 1]) + jv - xs[j]) ** 2).mean()))
    assert got == pytest.approx(np.mean(errs), rel=1e-4)


def test_quadratic_trains_and_differs_from_linear(X, tiny):
    kw = dict(hidden=16, max_epochs=2, random_state=0, device="cpu", n_neighbors=4)
    q = NRAE(4, approx="quadratic", **kw).fit(X)
    lin = NRAE(4, approx="linear", **kw).fit(X)
    assert np.isfinite(q.history_[-1]["loss"])
    assert not np.array_equal(q.transform(tiny.xq), lin.transform(tiny.xq))  # ELU: a nonzero curvature term


@pytest.mark.parametrize("bad, match", [
    ({"n_neighbors": 200}, "n_neighbors=200 is larger than the data allows: 135 training rows"),
    ({"n_neighbors": 0}, "n_neighbors must be an integer >= 1"),
    ({"n_sampled": 20}, r"n_sampled must be an integer in \[1, n_neighbors=10\]"),
    ({"approx": "cubic"}, "approx must be one of"),
    ({"kernel_lambda": 0.0}, "kernel_lambda must be > 0"),
])
def test_bad_parameters(bad, match, X):
    with pytest.raises(ValueError, match=match):
        NRAE(4, device="cpu", **bad).fit(X)
