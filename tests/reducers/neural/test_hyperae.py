"""HyperAE: codes strictly inside the Poincaré ball, the closed-form distance, stability at large norms."""

import numpy as np
import pytest
import torch

from rae_explore.reducers.neural.hyperae import HyperAE, poincare_distances, poincare_search


def test_distance_matches_the_closed_form_on_hand_picked_points():
    # from the origin to a point at Euclidean radius r: (2/sqrt(c)) artanh(sqrt(c) r)
    o, p = np.zeros((1, 2)), np.array([[0.5, 0.0]])
    assert poincare_distances(o, p, 1.0)[0, 0] == pytest.approx(np.log(3.0), rel=1e-6)  # 2 artanh(1/2) = ln 3
    c = 4.0
    q = np.array([[0.0, 0.3]])  # sqrt(c) r = 0.6
    assert poincare_distances(o, q, c)[0, 0] == pytest.approx(2 / 2.0 * np.arctanh(0.6), rel=1e-6)
    # two opposite points at radius 1/2 (c = 1): the geodesic through 0 has length 2 ln 3
    assert poincare_distances(p, -p, 1.0)[0, 0] == pytest.approx(2 * np.log(3.0), rel=1e-6)
    # against geoopt's Möbius form (2/sqrt(c)) artanh(sqrt(c) ||-x (+) y||), random points
    from rae_explore.reducers.neural.training import import_geoopt

    geoopt = import_geoopt()

    rng = np.random.default_rng(0)
    a = rng.uniform(-0.3, 0.3, (5, 3))
    b = rng.uniform(-0.3, 0.3, (6, 3))
    ball = geoopt.PoincareBall(c=2.0)
    ref = ball.dist(torch.as_tensor(a)[:, None], torch.as_tensor(b)[None]).numpy()
    np.testing.assert_allclose(poincare_distances(a, b, 2.0), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="row 0 lies on or outside the Poincaré ball"):
        poincare_distances(np.array([[1.0, 0.0]]), b[:, :2], 1.0)
    with pytest.raises(ValueError, match="c must be > 0"):
        poincare_distances(a, b, 0.0)


@pytest.mark.parametrize("c", [1.0, 2.5])
def test_codes_lie_strictly_inside_the_ball_even_for_huge_inputs(c, X, tiny):
    hae = HyperAE(4, c=c, hidden=32, max_epochs=3, random_state=0, device="cpu").fit(X)
    for Q in (tiny.xq, tiny.xq * 1e6, -tiny.xq * 1e6):
        Z = hae.transform(Q)
        assert np.isfinite(Z).all()
        assert (np.sqrt(c) * np.linalg.norm(Z.astype(np.float64), axis=1) < 1).all()
    # the raw map at the code too: enormous pre-codes stay inside
    h = torch.full((3, 4), 1e8)
    z = hae.module_.to_code(h)
    assert torch.isfinite(z).all() and (np.sqrt(c) * z.norm(dim=1) < 1).all()
    assert torch.isfinite(hae.module_.from_code(z)).all()


def test_training_is_stable_with_inputs_of_large_norm(X):
    big = X * 1e5 + 3e5
    hae = HyperAE(4, hidden=32, max_epochs=15, lr=3e-3, clip_r=2.0, random_state=0, device="cpu").fit(big)
    losses = [r["loss"] for r in hae.history_]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    Z = hae.transform(big)
    assert np.isfinite(Z).all() and (np.linalg.norm(Z, axis=1) < 1).all()


def test_exact_and_reranked_search_agree_with_brute_force(rng):
    zb = rng.uniform(-0.5, 0.5, (200, 3)) / np.sqrt(3)
    zq = rng.uniform(-0.5, 0.5, (10, 3)) / np.sqrt(3)
    D = poincare_distances(zq, zb, 1.0)
    ref = np.argsort(D, axis=1, kind="stable")[:, :5]
    Dx, Ix = poincare_search(zq, zb, 5)
    np.testing.assert_array_equal(Ix, ref)
    np.testing.assert_allclose(Dx, np.take_along_axis(D, ref, 1), rtol=1e-6)
    _, Ir = poincare_search(zq, zb, 5, shortlist=200)  # the whole base as shortlist: exact
    np.testing.assert_array_equal(Ir, ref)
    _, Is = poincare_search(zq, zb, 5, shortlist=20)
    assert (Is == ref).mean() > 0.8  # a short L2 list is already mostly right
    with pytest.raises(ValueError, match="shortlist must be an integer in"):
        poincare_search(zq, zb, 5, shortlist=3)


@pytest.mark.parametrize("bad, match", [({"c": 0.0}, "c must be > 0"), ({"c": -1.0}, "c must be > 0"),
                                        ({"clip_r": 0.0}, "clip_r must be > 0")])
def test_bad_parameters(bad, match, X):
    with pytest.raises(ValueError, match=match):
        HyperAE(4, device="cpu", **bad).fit(X)
