"""The reducer registry, the scikit-learn contract over every entry, and each baseline's specifics."""


import numpy as np
import pytest

from rae_explore.reducers import LPP, RandomProjection, make_reducer


def _reference_lpp(X, m, k=10):
    """The reference's LPPReducer, re-derived: binary symmetrised k-NN graph, no centring, first m eigvecs."""
    from scipy.linalg import eigh
    from sklearn.neighbors import NearestNeighbors

    n, d = X.shape
    idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    W = np.zeros((n, n))
    W[np.repeat(np.arange(n), k), idx.ravel()] = 1
    W = np.minimum(W + W.T, 1)
    D = np.diag(W.sum(1))
    X64 = X.astype(np.float64)
    A, B = X64.T @ (D - W) @ X64, X64.T @ D @ X64
    B += 1e-4 * np.trace(B) / d * np.eye(d)
    return eigh(A, B)[1][:, :m]


def test_linear_reducers_expose_their_map(X, tiny):
    for name in ("pca", "rp", "lpp"):
        red = make_reducer(name, n_components=5).fit(X)
        np.testing.assert_allclose(red.transform(tiny.xq), (tiny.xq - red.mean_) @ red.components_.T + red.intercept_,
                                   rtol=1e-5, atol=1e-5)
        s = np.linalg.svd(red.components_.astype(np.float64), compute_uv=False)
        np.testing.assert_allclose(red.singular_values_, s, rtol=1e-6)
        assert red.condition_number_ == pytest.approx(s[0] / s[-1], rel=1e-6)


def test_pca_matches_sklearn(X):
    from sklearn.decomposition import PCA

    ours = make_reducer("pca", n_components=6).fit(X)
    ref = PCA(6).fit(X)
    np.testing.assert_allclose(np.abs(ours.transform(X)), np.abs(ref.transform(X)), rtol=1e-3, atol=1e-4)
    assert ours.condition_number_ == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-5)


def test_rp_gaussian_is_the_reference_matrix(X):
    rp = RandomProjection(8, random_state=42).fit(X)
    R = np.random.default_rng(42).standard_normal((32, 8)).astype(np.float32) / np.float32(np.sqrt(8))
    np.testing.assert_allclose(rp.transform(X), X @ R, rtol=1e-5, atol=1e-5)
    assert not rp.mean_.any()  # no centring, as in the reference


def test_sparse_rp_li2006():
    d, m = 400, 64
    rp = RandomProjection(m, kind="sparse", random_state=0).fit(np.zeros((2, d), np.float32))
    R = rp.components_
    nz = R[R != 0]
    assert rp.density_ == pytest.approx(1 / np.sqrt(d))
    assert abs((R != 0).mean() - 1 / np.sqrt(d)) < 0.01
    np.testing.assert_allclose(np.abs(nz), np.sqrt(np.sqrt(d) / m), rtol=1e-5)  # ±sqrt(s/m), s = sqrt(d)
    # squared norms preserved in expectation (Johnson-Lindenstrauss)
    x = np.random.default_rng(1).standard_normal((500, d)).astype(np.float32)
    ratio = (rp.transform(x) ** 2).sum(1) / (x ** 2).sum(1)
    assert abs(ratio.mean() - 1) < 0.05
    with pytest.raises(ValueError, match="kind must be one of"):
        RandomProjection(4, kind="orthogonal").fit(x)


def test_lpp_reference_compat_reproduces_reference(X):
    ours = LPP(4, reference_compat=True).fit(X)
    ref = _reference_lpp(X, 4)
    Zo, Zr = ours.transform(X), X @ ref
    # eigenvectors are defined up to sign
    for j in range(4):
        c = np.corrcoef(Zo[:, j], Zr[:, j])[0, 1]
        assert abs(c) > 0.999
    assert not ours.mean_.any()


def test_lpp_skips_the_trivial_eigenvector(X):
    # a constant feature: v = e_last makes X v constant, the trivial Laplacian-eigenmap solution (mu = 0)
    Xc = np.hstack([X, np.full((X.shape[0], 1), 50.0, np.float32)])
    ref = LPP(3, reference_compat=True).fit(Xc)
    ours = LPP(3).fit(Xc)
    Zr, Zo = ref.transform(Xc), ours.transform(Xc)
    spread = lambda Z: Z.std(0) / np.abs(Z).mean(0).clip(1e-12)  # noqa: E731
    assert spread(Zr)[0] < 1e-2  # the reference's first component is (nearly) constant: useless
    assert (spread(Zo) > 0.1).all()  # ours: every component varies
    assert ours.n_skipped_ == 1
    # centred with the degree-weighted mean: every embedding is D-orthogonal to the constant vector
    assert np.abs(ours.transform(Xc).mean(0)).max() < 0.2 * np.abs(ours.transform(Xc)).mean()


def test_uncentred_pca_is_the_top_right_singular_vectors(X):
    Xs = X + 3.0  # far from the origin: centring matters
    ours = make_reducer("pca", n_components=6, center=False).fit(Xs)
    _, s, Vt = np.linalg.svd(Xs.astype(np.float64), full_matrices=False)
    # the same subspace, axis by axis up to sign
    np.testing.assert_allclose(np.abs(ours.components_ @ Vt[:6].T), np.eye(6), atol=1e-4)
    assert not ours.mean_.any()
    np.testing.assert_allclose(ours.transform(Xs), Xs @ ours.components_.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ours.explained_variance_, s[:6] ** 2 / len(Xs), rtol=1e-5)
    centred = make_reducer("pca", n_components=6).fit(Xs)
    assert abs(centred.components_[0] @ ours.components_[0]) < 0.99  # the first axis follows the mean
    with pytest.raises(ValueError, match="center must be True or False"):
        make_reducer("pca", n_components=2, center="yes").fit(Xs)


@pytest.mark.parametrize("center", [True, False])
def test_partial_fit_over_blocks_equals_fit(center):
    from rae_explore.reducers.linear import PCA

    rng = np.random.default_rng(3)
    X = (rng.standard_normal((900, 10)) * np.linspace(3, 0.2, 10) + 5).astype(np.float32)
    full = PCA(4, center=center).fit(X)
    part = PCA(4, center=center)
    for a in range(0, 900, 250):
        part.partial_fit(X[a:a + 250])
    assert part.moments_.n == 900
    # the same subspace and transform (signs are fixed by the largest entry of each axis)
    np.testing.assert_allclose(np.abs(part.components_ @ full.components_.T), np.eye(4), atol=1e-4)
    np.testing.assert_allclose(np.abs(part.transform(X)), np.abs(full.transform(X)), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(part.explained_variance_, full.explained_variance_, rtol=1e-4)
    np.testing.assert_allclose(part.explained_variance_ratio_, full.explained_variance_ratio_, rtol=1e-4)
    with pytest.raises(ValueError, match="rows seen so far"):
        PCA(4).partial_fit(X[:2])


@pytest.mark.parametrize("center", [True, False])
def test_fit_from_moments_equals_fit_and_continues_with_partial_fit(X, center):
    from rae_explore.reducers.moments import moments

    X = np.asarray(X, dtype=np.float32)
    ref = make_reducer("pca", n_components=4, center=center).fit(X)
    got = make_reducer("pca", n_components=4, center=center).fit_from_moments(moments(X[:100], block_rows=33))
    got.partial_fit(X[100:])  # the moments are kept: the remaining rows complete the fit
    np.testing.assert_allclose(np.abs(got.components_ @ ref.components_.T), np.eye(4), atol=1e-4)
    np.testing.assert_allclose(got.mean_, ref.mean_, atol=1e-5)
    np.testing.assert_allclose(got.explained_variance_, ref.explained_variance_, rtol=1e-4)
    with pytest.raises(ValueError, match="center must be True or False"):
        make_reducer("pca", n_components=4, center="yes").fit_from_moments(moments(X))
