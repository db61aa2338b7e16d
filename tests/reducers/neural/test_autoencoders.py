"""Small autoencoders: shapes, standardisation, the linear optimum (PCA), nonlinearity, seeds."""

import numpy as np
import pytest
import torch

from rae_explore.reducers.neural.autoencoders import LinearAutoencoder, MLPAutoencoder, make_autoencoder, reconstruction_loss, train_autoencoder
from rae_explore.data.synthetic import synthetic


@pytest.fixture(scope="module")
def lowrank():
    """32-d data near an 8-d subspace (noise 0.01)."""
    return synthetic(d=32, nb=800, nq=200, intrinsic_dim=8, seed=0)


@pytest.mark.parametrize("kind, cls", [("linear", LinearAutoencoder), ("mlp", MLPAutoencoder)])
def test_modules_shapes_and_standardisation_buffers(kind, cls, rng):
    m = make_autoencoder(kind, 12, 3)
    assert isinstance(m, cls)
    X = torch.from_numpy(rng.standard_normal((5, 12)).astype(np.float32) * 4 + 7)
    assert m.encode(X).shape == (5, 3) and m(X).shape == (5, 12) and m.decode(m.encode(X)).shape == (5, 12)
    m.set_standardisation(X)
    torch.testing.assert_close(m.mean, X.mean(0))
    assert float(m.scale) == pytest.approx(float((X - X.mean(0)).pow(2).mean().sqrt()))
    assert {"mean", "scale"} <= set(m.state_dict())  # travels with the weights


def test_mlp_architecture_mirrors_hidden_layers():
    m = MLPAutoencoder(20, 4, hidden=(16, 8), activation="gelu")
    enc = [l.out_features for l in m.encoder if isinstance(l, torch.nn.Linear)]
    dec = [l.out_features for l in m.decoder if isinstance(l, torch.nn.Linear)]
    assert enc == [16, 8, 4] and dec == [8, 16, 20]


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="conv"), "kind must be one of"),
    (dict(n_components=0), r"n_components must be an integer in \[1, d=32\]"),
    (dict(n_components=33), r"n_components must be an integer in \[1, d=32\]"),
])
def test_bad_arguments(lowrank, kwargs, match):
    args = dict(n_components=4, kind="linear", max_epochs=1) | kwargs
    with pytest.raises(ValueError, match=match):
        train_autoencoder(lowrank.xb, **args)


def test_bad_inputs(lowrank):
    with pytest.raises(ValueError, match="dimension mismatch: X_test has 31 columns"):
        train_autoencoder(lowrank.xb, 4, X_test=lowrank.xq[:, :31], max_epochs=1)
    X = lowrank.xb.copy()
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        train_autoencoder(X, 4, max_epochs=1)
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPAutoencoder(8, 2, activation="swish")


def test_linear_autoencoder_reaches_the_pca_loss(lowrank):
    """Baldi & Hornik: a linear AE's optimum is the PCA reconstruction of the same rank."""
    X, Xq = lowrank.xb, lowrank.xq
    fits = {h: train_autoencoder(X, h, X_test=Xq, kind="linear", max_epochs=150, lr=1e-2) for h in (8, 4)}
    Xc = X - X.mean(0)
    _, s, _ = np.linalg.svd(Xc, full_matrices=False)
    for h, fit in fits.items():
        pca_fvu = (s[h:] ** 2).sum() / (s ** 2).sum()
        assert fit.train_fvu == pytest.approx(pca_fvu, abs=0.02), h
    assert fits[8].test_fvu < 0.02 < fits[4].test_fvu  # the 8-d data needs 8 dimensions
    assert fits[8].test_loss == pytest.approx(reconstruction_loss(fits[8].model, Xq))
    assert fits[8].epochs == 150 and len(fits[8].history) == 150 and "val_loss" in fits[8].history[0]


def test_nonlinear_autoencoder_beats_linear_on_a_curve():
    """A 1-d spiral in 8-d: one linear code cannot follow it, a small MLP can."""
    rng = np.random.default_rng(0)
    t = rng.uniform(1, 4, 1200)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    X = (np.c_[t * np.cos(2 * t), t * np.sin(2 * t), np.zeros((1200, 6))] @ Q).astype(np.float32)
    lin = train_autoencoder(X[:1000], 1, X_test=X[1000:], kind="linear", max_epochs=40, lr=3e-3)
    mlp = train_autoencoder(X[:1000], 1, X_test=X[1000:], kind="mlp", hidden=(64, 64), max_epochs=150, lr=3e-3)
    assert mlp.test_fvu < 0.5 * lin.test_fvu


def test_same_seed_same_model_and_threads_restored(lowrank):
    before = torch.get_num_threads()
    a = train_autoencoder(lowrank.xb, 3, kind="mlp", max_epochs=2, random_state=5)
    b = train_autoencoder(lowrank.xb, 3, kind="mlp", max_epochs=2, random_state=5)
    c = train_autoencoder(lowrank.xb, 3, kind="mlp", max_epochs=2, random_state=6)
    assert a.train_loss == b.train_loss and a.train_loss != c.train_loss
    assert np.isnan(a.test_loss) and np.isnan(a.test_fvu)
    assert torch.get_num_threads() == before


def test_code_autoencoder_switches_and_poincare_codes():
    from rae_explore.reducers.neural.autoencoders import CodeAutoencoder, PoincareCodeAutoencoder

    torch.manual_seed(0)
    x = torch.randn(5, 6) * 100
    m = CodeAutoencoder(6, 2, hidden=8, normalize_input=True, normalize_codes=True)
    torch.testing.assert_close(m.encode(x), m.encode(3 * x))  # input normalised: scale-free
    torch.testing.assert_close(m.encode(x).norm(dim=1), torch.ones(5))
    assert m(x).shape == (5, 6)
    p = PoincareCodeAutoencoder(6, 2, hidden=8, c=4.0, clip_r=1.0)
    z = p.encode(x)
    assert (z.norm(dim=1) < 0.5).all()  # radius 1/sqrt(c)
    # clip_r bounds the tangent norm: codes no farther than exp_0 of radius 1
    assert (z.norm(dim=1) <= torch.tanh(torch.tensor(2.0)) / 2 + 1e-6).all()
    assert torch.isfinite(p.decode(z)).all() and p.decode(z).shape == (5, 6)


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("scale", [1e-3, 0.3, 3.0, 1e6])
def test_poincare_maps_equal_geoopts(c, scale):
    # the per-row-scalar forms of HyperAE's code map and hyperbolic decoder layer give geoopt's points
    from rae_explore.reducers.neural.autoencoders import expmap0_projected, hyperbolic_linear_logmap0, poincare_ball

    g = torch.Generator().manual_seed(int(c * 10))
    ball = poincare_ball(c)
    h = torch.randn(64, 8, generator=g) * scale
    np.testing.assert_allclose(expmap0_projected(h, c).numpy(), ball.projx(ball.expmap0(h)).numpy(), atol=1e-6)
    clipped = h * torch.clamp(2.0 / h.norm(dim=-1, keepdim=True), max=1.0)
    np.testing.assert_allclose(expmap0_projected(h, c, 2.0).numpy(), ball.projx(ball.expmap0(clipped)).numpy(),
                               atol=1e-6)
    z = ball.projx(ball.expmap0(h))
    W, b = torch.randn(16, 8, generator=g) * 0.3 * scale, torch.randn(16, generator=g) * min(scale, 3.0)
    ref = ball.logmap0(ball.projx(ball.mobius_add(ball.mobius_matvec(W, z), ball.projx(ball.expmap0(b)))))
    got = hyperbolic_linear_logmap0(z, W, b, c)
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-4, atol=1e-4 * float(ref.abs().max()) + 1e-6)
    # gradients flow and stay finite, also at the origin (zero weights)
    W0 = torch.zeros(16, 8, requires_grad=True)
    hyperbolic_linear_logmap0(z, W0, b, c).sum().backward()
    assert torch.isfinite(W0.grad).all()
