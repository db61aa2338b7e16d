"""Linear reducers: PCA (centred or not), random projection (Gaussian or sparse) and LPP.

Each fits a map ``x -> (x - mean_) @ components_.T`` (see :class:`~rae_explore.reducers.base.LinearReducer`).
The baselines follow the RAE paper's reference ``baselines.py`` (github.com/explorerZH/RAE-KDD2026)
so that numbers are comparable; where they differ from it the class docstring says so.
"""


import numpy as np

from .base import LinearReducer
from .moments import Moments, check_moments_fit, moments


# ============================================================================ PCA
def principal_axes(X, n_components, *, center=True):
    """Top right singular vectors of ``X`` (centred or not), with a deterministic sign.

    The eigenvectors of the ``d x d`` scatter ``(X - mean)^T (X - mean)`` (``mean = 0`` when
    ``center=False``), accumulated in float64 over row blocks (:mod:`.moments`): one pass over
    a memory map, never a float64 copy of ``X``; cheap for embedding sizes whatever ``n``.

    Parameters
    ----------
    X : ndarray, shape (n, d), or :class:`~rae_explore.reducers.moments.Moments`
        The data, or its moments accumulated elsewhere (``partial_fit``, a Dask reduction).
    n_components : int
        How many axes, ``<= d``.
    center : bool
        Subtract the column mean first (PCA) or not (uncentred PCA: the right singular vectors
        of the raw data, what RAE's closed form gives at ``alpha = 0``).

    Returns
    -------
    axes : float64 (n_components, d)
        Orthonormal rows by decreasing eigenvalue; each row's largest-magnitude entry is positive.
    eigenvalues : float64 (n_components,)
        Of the scatter (``sigma_i^2``, not divided by ``n``), clipped at 0.
    mean : float64 (d,)
        The subtracted mean (zeros if ``not center``).
    """
    mom = X if isinstance(X, Moments) else moments(X)
    mean = mom.mean if center else np.zeros(mom.d)
    evals, evecs = np.linalg.eigh(mom.scatter(center=center))
    order = np.argsort(evals)[::-1][:n_components]
    s2, Q = np.clip(evals[order], 0, None), evecs[:, order]
    sign = np.sign(Q[np.abs(Q).argmax(axis=0), np.arange(Q.shape[1])])
    return (Q * np.where(sign == 0, 1.0, sign)).T, s2, mean


class PCA(LinearReducer):
    """Principal component analysis, centred (scikit-learn ``PCA``, the reference's ``PCAReducer``) or not.

    Parameters
    ----------
    n_components : int
    center : bool
        ``True``: classic PCA, ``x -> (x - mean) @ V^T`` with ``V`` the top eigenvectors of the
        covariance. ``False``: uncentred PCA, ``x -> x @ V^T`` with ``V`` the top right singular
        vectors of the raw data (:func:`principal_axes`; RAE's closed form at ``alpha = 0``). Under
        the cosine metric the two differ in kind: centring moves the origin, so it changes the
        angles between the reduced vectors, and the uncentred map, which keeps the origin, can
        keep more neighbours (data far from the origin, such as text embeddings).
    random_state : int or None
        Only used by the randomised SVD solver scikit-learn picks for large inputs (``center=True``).
    svd_solver : str
        Passed to :class:`sklearn.decomposition.PCA` (``"auto"`` as in the reference; ``center=True`` only).
    whiten : bool
        Scale components to unit variance (off in the reference).

    Attributes
    ----------
    components_ : float32 (n_components, n_features)
        Principal axes (orthonormal rows), by decreasing variance.
    mean_ : float32 (n_features,)
        Zeros if ``not center``.
    explained_variance_ : float64 (n_components,)
        Variance of the data along each axis (``center=False``: the mean squared projection,
        the uncentred second moment).
    explained_variance_ratio_ : float64 (n_components,)
        Its fraction of the total variance (second moment if ``not center``).
    singular_values_, condition_number_
        Of the encoder map: all ones and 1.0 unless ``whiten``.
    """

    def __init__(self, n_components=2, *, center=True, random_state=None, svd_solver="auto", whiten=False):
        self.n_components = n_components
        self.center = center
        self.random_state = random_state
        self.svd_solver = svd_solver
        self.whiten = whiten

    def fit(self, X, y=None):
        """Fit the axes on ``X`` (float32-convertible, shape (n, d)); returns ``self``."""
        from sklearn.decomposition import PCA as _PCA

        X = self._check_fit_X(X)
        if self.n_components > X.shape[0]:
            raise ValueError(f"PCA: n_components={self.n_components} exceeds n_samples={X.shape[0]}")
        if self.center not in (True, False):
            raise ValueError(f"center must be True or False, got {self.center!r}")
        if not self.center:
            return self._fit_moments(moments(X))
        p = _PCA(self.n_components, svd_solver=self.svd_solver, whiten=self.whiten, random_state=self.random_state)
        p.fit(X)
        W = p.components_
        if self.whiten:
            W = W / np.sqrt(p.explained_variance_)[:, None]
        self.explained_variance_ = p.explained_variance_.astype(np.float64)
        self.explained_variance_ratio_ = p.explained_variance_ratio_.astype(np.float64)
        return self._finish_linear(W, mean=p.mean_)

    def partial_fit(self, X, y=None):
        """Add the rows of ``X`` (shape (n, d)) to the running moments and refit; returns ``self``.

        One pass over a base too large for memory: call it on consecutive blocks. The axes are the
        top eigenvectors of the accumulated scatter (:func:`principal_axes`), so after the last
        block they equal ``fit`` on all rows (up to float rounding; ``center=True`` solves the
        covariance's eigenproblem instead of scikit-learn's SVD). ``moments_`` holds the sums.
        """
        if self.center not in (True, False):
            raise ValueError(f"center must be True or False, got {self.center!r}")
        prev = getattr(self, "n_features_in_", None)
        X = self._check_fit_X(X, min_samples=1)
        if prev is not None and prev != X.shape[1]:
            self.n_features_in_ = prev
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {prev} features as "
                             "input: partial_fit blocks must all come from the same vectors (start a new model for "
                             "other data)")
        if getattr(self, "moments_", None) is None:
            self.moments_ = Moments(X.shape[1])
        self.moments_.update(X)
        if self.n_components > self.moments_.n:
            raise ValueError(f"PCA: n_components={self.n_components} exceeds the {self.moments_.n} rows seen so far; "
                             "pass more rows before using the model")
        return self._fit_moments(self.moments_)

    def fit_from_moments(self, moments, y=None):
        """Fit from :class:`~rae_explore.reducers.moments.Moments` accumulated elsewhere; returns ``self``.

        One pass over a memory-mapped base (:func:`~rae_explore.reducers.moments.moments`) or a
        reduction across Dask workers (:func:`rae_explore.experiments.distributed.distributed_moments`)
        gives what ``fit`` computes from the rows themselves (``center=True`` solves the
        covariance's eigenproblem instead of scikit-learn's SVD: equal up to float rounding and
        the sign rule of :func:`principal_axes`). ``moments_`` keeps them, so ``partial_fit`` can go on.
        """
        if self.center not in (True, False):
            raise ValueError(f"center must be True or False, got {self.center!r}")
        self.moments_ = check_moments_fit(self, moments)
        return self._fit_moments(moments)

    def _fit_moments(self, mom):
        """Axes, variances and mean from accumulated :class:`~rae_explore.reducers.moments.Moments`."""
        W, s2, mean = principal_axes(mom, self.n_components, center=self.center)
        scatter_trace = float(np.trace(mom.scatter(center=self.center)))
        denom = max(mom.n - 1, 1) if self.center else mom.n  # sklearn's n - 1 for the centred variance
        var = s2 / denom
        total = scatter_trace / denom
        if self.whiten:
            W = W / np.sqrt(np.where(var > 0, var, 1.0))[:, None]
        self.explained_variance_ = var
        self.explained_variance_ratio_ = var / total if total > 0 else np.zeros_like(var)
        return self._finish_linear(W, mean=mean if self.center else None)


# ============================================================================ random projection
class RandomProjection(LinearReducer):
    """Random projection: a data-independent random matrix, no centring.

    ``kind="gaussian"`` (the reference's ``RPReducer``): entries ``N(0, 1) / sqrt(n_components)``,
    drawn with ``numpy.random.default_rng(random_state)`` in the reference's order, so the
    same seed gives the reference's matrix. ``kind="sparse"``: Li, Hastie & Church (2006)
    "Very sparse random projections": entries ``±sqrt(s / n_components)`` with probability
    ``1 / (2s)`` each and 0 otherwise, ``s = sqrt(n_features)`` (``density = 1 / s``).

    Both preserve squared distances in expectation (Johnson-Lindenstrauss).

    Attributes
    ----------
    components_ : float32 (n_components, n_features)
    singular_values_, condition_number_
    density_ : float
        Fraction of non-zero entries (1.0 for Gaussian).
    """

    KINDS = ("gaussian", "sparse")

    def __init__(self, n_components=2, *, kind="gaussian", density="auto", random_state=None):
        self.n_components = n_components
        self.kind = kind
        self.density = density
        self.random_state = random_state

    def fit(self, X, y=None):
        X = self._check_fit_X(X, min_samples=1)
        d, m = X.shape[1], self.n_components
        rng = self._rng()
        if self.kind == "gaussian":
            R = rng.standard_normal((d, m)).astype(np.float32) / np.float32(np.sqrt(m))  # reference: (d_in, m)
            self.density_ = 1.0
        elif self.kind == "sparse":
            dens = 1.0 / np.sqrt(d) if self.density == "auto" else float(self.density)
            if not 0 < dens <= 1:
                raise ValueError(f"density must be in (0, 1] or 'auto', got {self.density!r}")
            u = rng.random((d, m))
            signs = np.where(rng.random((d, m)) < 0.5, -1.0, 1.0)
            R = np.where(u < dens, signs, 0.0) * np.sqrt(1.0 / (dens * m))
            self.density_ = dens
        else:
            raise ValueError(f"kind must be one of {self.KINDS}, got {self.kind!r}")
        return self._finish_linear(R.T)


# ============================================================================ LPP
class LPP(LinearReducer):
    """Locality preserving projections (He & Niyogi 2003) on a binary k-NN graph built with faiss.

    Graph: each point's ``n_neighbors`` (10) exact Euclidean neighbours (self excluded), weights
    1, symmetrised (``W = max(W, W.T)``); ``D = diag(W 1)``, ``L = D - W``. The projection
    solves the generalized eigenproblem

        X^T L X v = mu (X^T D X + r I) v,   r = ridge * trace(X^T D X) / d,

    and keeps the eigenvectors of the smallest ``mu``.

    Two fixes against the reference (``reference_compat=False``, the default):

    - the data are centred with the degree-weighted mean ``sum_i D_ii x_i / sum_i D_ii``, so
      every embedding ``X v`` is D-orthogonal to the constant vector and the trivial solution
      of Laplacian eigenmaps (a constant embedding, ``mu = 0``) cannot appear; the reference
      does not centre, so a near-constant direction can take an eigenvector slot;
    - eigenvectors whose embedding is degenerate are skipped: those with a D-weighted variance
      of ``X v`` below ``1e-9`` times the largest (directions in the null space of the data,
      which the ridge turns into spurious ``mu = 0`` solutions). ``n_skipped_`` counts them.

    ``reference_compat=True`` reproduces the reference's ``LPPReducer``: no centring, no
    skipping, the first ``n_components`` eigenvectors as they come.

    Deterministic (exact k-NN, dense eigensolver); ``random_state`` is accepted and unused so
    every reducer takes the same call.

    Attributes
    ----------
    components_ : float32 (n_components, n_features)
        Projection vectors (rows), B-orthonormal (not orthonormal).
    mean_ : float32 (n_features,)
        Degree-weighted mean (zeros with ``reference_compat``).
    eigenvalues_ : float64 (n_components,)
        The kept ``mu``, ascending (smaller = smoother on the graph).
    n_skipped_ : int
    singular_values_, condition_number_
    """

    def __init__(self, n_components=2, *, n_neighbors=10, ridge=1e-4, reference_compat=False, random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.ridge = ridge
        self.reference_compat = reference_compat
        self.random_state = random_state  # accepted for a uniform interface: LPP is deterministic

    def fit(self, X, y=None):
        from scipy import sparse
        from scipy.linalg import eigh

        from ..neighbors.knn import knn_search

        X = self._check_fit_X(X, min_samples=self.n_neighbors + 1)
        n, d = X.shape
        if self.ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {self.ridge}")
        _, idx = knn_search(X, X, self.n_neighbors, "l2", exclude_self=True)
        rows = np.repeat(np.arange(n), self.n_neighbors)
        W = sparse.coo_matrix((np.ones(rows.size), (rows, idx.ravel())), shape=(n, n))
        W = (W + W.T).minimum(1.0).tocsr()
        deg = np.asarray(W.sum(axis=1)).ravel()
        X64 = X.astype(np.float64)
        if self.reference_compat:
            mean = np.zeros(d)
        else:
            mean = deg @ X64 / deg.sum()
        Xc = X64 - mean
        B = Xc.T @ (deg[:, None] * Xc)
        A = B - Xc.T @ (W @ Xc)  # X^T L X = X^T D X - X^T W X
        A = (A + A.T) / 2
        Br = B + self.ridge * (np.trace(B) / d) * np.eye(d)
        mu, V = eigh(A, Br)
        if self.reference_compat:
            keep = np.arange(self.n_components)
            self.n_skipped_ = 0
        else:
            # D-weighted variance of each embedding X v (B is the D-weighted scatter)
            var = np.einsum("ij,ij->j", V, B @ V)
            ok = var > 1e-9 * var.max()
            keep = np.flatnonzero(ok)[: self.n_components]
            if keep.size < self.n_components:
                raise ValueError(
                    f"LPP: the data span only {keep.size} usable directions, fewer than n_components={self.n_components}; "
                    "lower n_components"
                )
            self.n_skipped_ = int((~ok[: keep[-1] + 1]).sum())
        self.eigenvalues_ = mu[keep]
        return self._finish_linear(V[:, keep].T, mean=mean)
