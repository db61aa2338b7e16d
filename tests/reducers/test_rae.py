"""RAE: the closed form against Adam, the encoder-only penalty's missing minimiser, options and errors."""

import numpy as np
import pytest
from scipy.linalg import subspace_angles

from rae_explore.reducers.rae import RAE, closed_form_rae


@pytest.fixture(scope="module")
def data():
    """400 x 16 points near a 6-d subspace with distinct scales (distinct singular values)."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((16, 6)))[0]
    X = (rng.standard_normal((400, 6)) * np.array([3, 2.5, 2, 1.5, 1, 0.5])) @ basis.T
    return (X + 0.05 * rng.standard_normal((400, 16))).astype(np.float32)


def _objective(X, We, Wd, alpha):
    """MSE over all elements + alpha/2 (||W_e||^2 + ||W_d||^2): Adam's coupled weight decay on both (no bias)."""
    X = X.astype(np.float64)
    return np.mean((X - X @ We.T @ Wd.T) ** 2) + alpha / 2 * ((We ** 2).sum() + (Wd ** 2).sum())


def _alpha_for(X, m, t_last):
    """alpha such that the m-th component is shrunk to t_last: t_i = 1 - d alpha / (2 s_i)."""
    n, d = X.shape
    s = np.sort(np.linalg.eigvalsh(X.T.astype(np.float64) @ X / n))[::-1]
    return 2 * s[m - 1] * (1 - t_last) / d


def test_closed_form_shrinkage_formula(data):
    n, d = data.shape
    alpha = _alpha_for(data, 4, 0.5)
    W, b_e, b_d, t = closed_form_rae(data, 4, alpha, bias=False)
    s = np.sort(np.linalg.eigvalsh(data.T.astype(np.float64) @ data / n))[::-1][:4]
    np.testing.assert_allclose(t, 1 - d * alpha / (2 * s), rtol=1e-10)
    assert t[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), np.sqrt(t), rtol=1e-10)
    assert not b_e.any() and not b_d.any()
    # a minimum: random perturbations never decrease the objective
    rng = np.random.default_rng(1)
    f0 = _objective(data, W, W.T, alpha)
    for _ in range(20):
        E, D = 1e-3 * rng.standard_normal(W.shape), 1e-3 * rng.standard_normal(W.T.shape)
        assert _objective(data, W + E, W.T + D, alpha) >= f0 - 1e-12
    # a large alpha switches weak components off entirely
    _, _, _, t_big = closed_form_rae(data, 6, _alpha_for(data, 3, 0.0) * 1.01, bias=False)
    assert (t_big[3:] == 0).all() and (t_big[:2] > 0).all()


def test_adam_converges_to_the_closed_form(data):
    """penalty='all', no bias: full-batch Adam reaches the Kunin et al. optimum."""
    alpha = _alpha_for(data, 4, 0.5)
    cf = RAE(4, alpha=alpha, bias=False, solver="closed_form").fit(data)
    ad = RAE(4, alpha=alpha, bias=False, batch_size=len(data), steps=1000, lr=3e-2, random_state=0,
             device="cpu", preset="reference").fit(data)  # from a random start
    We, Wd = ad.components_.astype(np.float64), ad.decoder_.astype(np.float64)
    assert subspace_angles(We.T, cf.components_.T.astype(np.float64)).max() < 1e-3  # principal angles
    np.testing.assert_allclose(ad.singular_values_, np.sqrt(cf.shrinkage_), rtol=1e-3)
    np.testing.assert_allclose(We, Wd.T, atol=1e-3)  # balanced: W_d = W_e^T
    f_cf = _objective(data, cf.components_.astype(np.float64), cf.decoder_.astype(np.float64), alpha)
    assert _objective(data, We, Wd, alpha) == pytest.approx(f_cf, rel=1e-5)
    assert ad.condition_number_ == pytest.approx(np.sqrt(cf.shrinkage_[0] / cf.shrinkage_[-1]), rel=1e-3)


def test_closed_form_with_bias_on_centred_data_is_exact(data):
    Xc = data - data.mean(0)
    alpha = _alpha_for(Xc, 3, 0.6)
    cf = RAE(3, alpha=alpha, solver="closed_form").fit(Xc)
    ad = RAE(3, alpha=alpha, batch_size=len(Xc), steps=1000, lr=3e-2, random_state=0, device="cpu",
             init="random").fit(Xc)
    assert subspace_angles(ad.components_.T.astype(float), cf.components_.T.astype(float)).max() < 1e-3
    np.testing.assert_allclose(ad.singular_values_, cf.singular_values_, rtol=1e-3)
    assert np.abs(ad.intercept_).max() < 1e-3 and np.abs(cf.intercept_).max() < 1e-6


def test_closed_form_bias_keeps_codes_uncentred(data):
    """Decayed biases prefer b_e ~ 0: the mean goes to b_d, codes are not centred (matters for cosine)."""
    X = data + 5.0
    cf = RAE(4, alpha=1e-6, solver="closed_form").fit(X)
    assert np.abs(cf.intercept_).max() < 1e-3
    Z = cf.transform(X)
    assert np.linalg.norm(Z.mean(0)) > 10  # not centred
    Xhat = Z @ cf.decoder_.T + cf.decoder_intercept_
    pca_err = np.mean((X - X.mean(0)) ** 2) - np.sort(np.linalg.eigvalsh(np.cov(X.T, bias=True)))[::-1][:4].sum() / 16
    assert np.mean((X - Xhat) ** 2) == pytest.approx(pca_err, rel=1e-3)  # as good as PCA with centring


def test_encoder_penalty_has_no_minimiser(data):
    """penalty='encoder': the longer Adam runs, the smaller W_e and the larger W_d; the product stays put."""
    kw = dict(alpha=0.05, penalty="encoder", bias=False, batch_size=len(data), lr=1e-2, random_state=0, device="cpu",
              init="random")
    short = RAE(4, steps=300, **kw).fit(data)
    long = RAE(4, steps=1500, **kw).fit(data)
    ns, nl = np.linalg.norm(short.components_), np.linalg.norm(long.components_)
    ds_, dl = np.linalg.norm(short.decoder_), np.linalg.norm(long.decoder_)
    assert nl < 0.8 * ns and dl > 1.2 * ds_
    enc = [h["encoder_norm"] for h in long.history_]
    assert enc[-1] < enc[len(enc) // 2] < enc[len(enc) // 4]  # still shrinking when training stops
    # reconstruction keeps (close to) the PCA optimum: the scale went to the decoder
    recon = lambda r: np.mean((data - r.transform(data) @ r.decoder_.T) ** 2)  # noqa: E731
    assert recon(long) < 1.5 * recon(short)
    # penalty='all' at the same alpha settles instead
    a1 = RAE(4, alpha=0.05, bias=False, batch_size=len(data), lr=1e-2, steps=300, random_state=0, device="cpu").fit(data)
    a2 = RAE(4, alpha=0.05, bias=False, batch_size=len(data), lr=1e-2, steps=1500, random_state=0, device="cpu").fit(data)
    assert np.linalg.norm(a2.components_) == pytest.approx(np.linalg.norm(a1.components_), rel=0.05)
    with pytest.raises(ValueError, match="no minimiser"):
        RAE(4, alpha=0.05, penalty="encoder", solver="closed_form").fit(data)


def test_small_alpha_spans_top_pca_subspace(tiny):
    X = tiny.xb
    rae = RAE(8, alpha=1e-6, batch_size=len(X), steps=600, lr=2e-2, random_state=0, device="cpu",
              init="random").fit(X)
    Xc = X - X.mean(0)
    top = np.linalg.svd(Xc, full_matrices=False)[2][:8]
    assert subspace_angles(rae.decoder_.astype(float), top.T.astype(float)).max() < 0.1


def test_history_options_and_reproducibility(data):
    r = RAE(4, alpha=1e-4, steps=40, batch_size=100, monitor_k=5, random_state=7, device="cpu").fit(data)
    assert len(r.history_) == 10 and r.n_iter_ == 40  # 4 steps per epoch
    h = r.history_[-1]
    for key in ("epoch", "step", "loss", "lr", "seconds", "encoder_norm", "decoder_norm", "penalty", "top_k@5"):
        assert key in h
    assert 0 <= h["top_k@5"] <= 1 and h["loss"] > 0 and r.history_[0]["loss"] > h["loss"]
    r2 = RAE(4, alpha=1e-4, steps=40, batch_size=100, monitor_k=5, random_state=7, device="cpu").fit(data)
    np.testing.assert_array_equal(r.components_, r2.components_)
    r3 = RAE(4, alpha=1e-4, steps=40, batch_size=100, random_state=8, device="cpu").fit(data)
    assert not np.array_equal(r.components_, r3.components_)
    nb = RAE(4, bias=False, steps=5, device="cpu").fit(data)
    assert not nb.intercept_.any() and not nb.decoder_intercept_.any()
    cf = RAE(4, solver="closed_form").fit(data)
    assert cf.history_ == [] and cf.n_iter_ == 0


def test_random_state_none_is_fresh_and_an_int_reproducible(data):
    """As in scikit-learn: None draws fresh randomness on every fit, an int (0 included) repeats."""
    kw = dict(alpha=1e-4, steps=8, batch_size=100, device="cpu")
    n1, n2 = (RAE(4, random_state=None, **kw).fit(data) for _ in range(2))
    assert not np.array_equal(n1.components_, n2.components_)
    z1, z2 = (RAE(4, random_state=0, **kw).fit(data) for _ in range(2))
    np.testing.assert_array_equal(z1.components_, z2.components_)


def test_preprocess_is_what_the_model_sees(data):
    r = RAE(4, solver="closed_form", normalize=True).fit(data)
    np.testing.assert_allclose(np.linalg.norm(r.preprocess(3 * data[:5]), axis=1), 1, rtol=1e-6)
    plain = RAE(4, solver="closed_form").fit(data)
    assert plain.preprocess(data) is data


def test_warm_start_starts_at_the_optimum(data):
    alpha = _alpha_for(data, 4, 0.5)
    cf = RAE(4, alpha=alpha, bias=False, solver="closed_form").fit(data)
    w = RAE(4, alpha=alpha, bias=False, init="closed_form", steps=20, lr=1e-4, random_state=0, device="cpu").fit(data)
    assert subspace_angles(w.components_.T.astype(float), cf.components_.T.astype(float)).max() < 1e-2


def test_normalize_makes_it_scale_invariant(data):
    r = RAE(4, solver="closed_form", normalize=True).fit(data)
    np.testing.assert_allclose(r.transform(data[:10]), r.transform(3 * data[:10]), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="zero vector"):
        r.transform(np.zeros((1, 16), np.float32))


@pytest.mark.parametrize("bad, match", [
    (dict(penalty="decoder"), "penalty must be one of"),
    (dict(solver="lbfgs"), "solver must be one of"),
    (dict(alpha=-1.0), "alpha must be a finite number >= 0"),
    (dict(optimizer="rmsprop"), "optimizer must be one of"),
    (dict(steps=0), "steps must be a positive integer"),
    (dict(init="pca"), "init must be"),
])
def test_parameter_errors(data, bad, match):
    with pytest.raises(ValueError, match=match):
        RAE(2, **bad).fit(data)


def test_divergence_is_a_clear_error(data):
    with pytest.raises(ValueError, match="diverged.*lower lr"):
        RAE(4, optimizer="sgd", lr=1e10, steps=50, device="cpu").fit(data * 100)


def test_optimizers_run(data):
    for opt in ("adamw", "sgd"):
        r = RAE(3, alpha=1e-4, optimizer=opt, steps=30, lr=1e-3, random_state=0, device="cpu", init="random").fit(data)
        assert np.isfinite(r.components_).all() and r.history_[-1]["loss"] < r.history_[0]["loss"] * 1.01


def test_default_starts_at_the_optimum_and_the_reference_preset_does_not(data):
    """The default converges (closed-form start); preset='reference' keeps the reference's random start."""
    alpha = _alpha_for(data, 4, 0.5)
    cf = RAE(4, alpha=alpha, bias=False, solver="closed_form").fit(data)
    kw = dict(alpha=alpha, bias=False, steps=30, lr=1e-3, random_state=0, device="cpu")
    default, ref = RAE(4, **kw).fit(data), RAE(4, preset="reference", **kw).fit(data)
    assert default.init_ == "closed_form" and ref.init_ == "random"
    assert subspace_angles(default.components_.T.astype(float), cf.components_.T.astype(float)).max() < 1e-2
    assert subspace_angles(ref.components_.T.astype(float), cf.components_.T.astype(float)).max() > 0.1
    assert RAE(4, preset="reference", init="closed_form", **kw).fit(data).init_ == "closed_form"  # explicit wins
    with pytest.raises(ValueError, match="preset must be one of"):
        RAE(4, preset="paper").fit(data)


def test_closed_form_partial_fit_over_blocks_equals_fit(tmp_path):
    from rae_explore.reducers.rae import RAE

    rng = np.random.default_rng(4)
    X = (rng.standard_normal((1200, 16)) * np.linspace(2, 0.1, 16) + 40).astype(np.float32)
    full = RAE(6, alpha=1e-4, solver="closed_form").fit(X)
    part = RAE(6, alpha=1e-4, solver="closed_form")
    for a in range(0, 1200, 500):
        part.partial_fit(X[a:a + 500])
    np.testing.assert_allclose(part.components_, full.components_, atol=1e-5)
    np.testing.assert_allclose(part.intercept_, full.intercept_, atol=1e-4)
    np.testing.assert_allclose(part.shrinkage_, full.shrinkage_, rtol=1e-6)
    # a memory-mapped base gives the same closed form (read in blocks)
    np.save(tmp_path / "x.npy", X)
    mm = RAE(6, alpha=1e-4, solver="closed_form").fit(np.load(tmp_path / "x.npy", mmap_mode="r"))
    np.testing.assert_allclose(mm.components_, full.components_, atol=1e-6)
    assert not hasattr(RAE(6), "partial_fit")  # the Adam solver trains on all rows at once


def test_fit_from_moments_equals_fit_and_exists_only_for_the_closed_form(data):
    from rae_explore.reducers.moments import moments

    X = data + 3.0  # away from the origin: the biases matter
    for normalize in (False, True):
        kw = {"alpha": 1e-3, "solver": "closed_form", "normalize": normalize}
        ref = RAE(3, **kw).fit(X)
        rae = RAE(3, **kw)
        got = rae.fit_from_moments(moments(X, block_rows=17, preprocess=rae.preprocess))
        np.testing.assert_allclose(got.components_, ref.components_, atol=1e-5)
        np.testing.assert_allclose(got.decoder_intercept_, ref.decoder_intercept_, atol=1e-5)
    assert not hasattr(RAE(3, solver="adam"), "fit_from_moments")
    with pytest.raises(ValueError, match="penalty='all'"):
        RAE(3, solver="closed_form", penalty="encoder", alpha=1.0).fit_from_moments(moments(X))
