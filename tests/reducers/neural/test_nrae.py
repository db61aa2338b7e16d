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


def _swiss_roll(n, seed, d=10):
    """A noiseless swiss roll (a curved 2-d manifold) rotated into ``d`` dimensions."""
    from sklearn.datasets import make_swiss_roll

    X3, _ = make_swiss_roll(n, noise=0.0, random_state=seed)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((d, 3)))[0]
    return (X3 @ Q.T).astype(np.float32)


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


def test_nrae_lowers_its_neighbourhood_loss_on_a_swiss_roll():
    """NRAE trains its own objective down on a curved manifold, and the error helper measures that objective.

    Issue 12 asked for "NRAE's neighbour reconstruction error lower than the Vanilla AE's at equal
    code size". Measured while building this (same architecture, ELU, same budget): swiss roll
    600 x 10 -> 2, held-out error lower for NRAE with seed 0 only (0.166 vs 0.188; seeds 1, 2:
    0.271 vs 0.170, 0.229 vs 0.209); a noisy arc (30 points, 10-d -> 1, as the NRAE paper's toy)
    higher for NRAE with every seed, even on its own training neighbourhoods. That comparison is
    therefore not asserted here. On real data it goes the other way: on sift5k -> 32, NRAE keeps
    more neighbours than the Vanilla AE (10-R@10 0.575 vs 0.517, notebook 05).
    """
    X, Xtest = _swiss_roll(400, 0), _swiss_roll(200, 1)
    kw = dict(hidden=64, activation="elu", max_epochs=25, batch_size=64, lr=3e-3, random_state=0, device="cpu",
              patience=None)
    nr = NRAE(2, n_neighbors=8, n_sampled=2, approx="linear", **kw).fit(X)
    h = nr.history_
    assert h[-1]["neighbors"] < 0.5 * h[0]["neighbors"] and h[-1]["center"] < h[0]["center"]
    assert nr.neighbors_.shape == (400, 8)
    # the evaluation helper on the training rows: the same quantity as the loss's neighbour term
    err = neighborhood_reconstruction_error(nr, X, n_neighbors=8)
    assert 0 < err < 2 * h[-1]["val_loss"] + 1.0
    ae = VanillaAE(2, **kw).fit(X)
    assert np.isfinite(neighborhood_reconstruction_error(ae, Xtest, n_neighbors=8))


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
