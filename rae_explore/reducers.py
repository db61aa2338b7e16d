"""Every dimensionality-reduction method behind one scikit-learn interface, found by name.

>>> from rae_explore.reducers import make_reducer
>>> red = make_reducer("pca", n_components=16, random_state=0)   # doctest: +SKIP
>>> Z = red.fit(X).transform(X)                                   # float32, (n, 16)

The registry :data:`REDUCERS` maps a lower-case name to a class; :func:`make_reducer` builds one
from a name and a params dict (what notebooks and sweeps pass around). Every reducer accepts
``n_components`` and ``random_state``. Every reducer follows
the scikit-learn contract: hyperparameters stored verbatim in ``__init__`` (``n_components``
first, the rest keyword-only), all checks in ``fit``, ``fit`` returns ``self``, learned state
ends in ``_``, ``transform`` returns float32 ``(n_samples, n_components)`` and raises
``NotFittedError`` before ``fit``.

Linear reducers (``pca``, ``rp``, ``lpp``, ``rae``) map ``x -> (x - mean_) @ components_.T +
intercept_`` and expose, after fit:

- ``components_`` : float32 (n_components, n_features), the encoder matrix;
- ``mean_`` : float32 (n_features,), the centre subtracted first (zeros if none);
- ``intercept_`` : float32 (n_components,), added after the map (zeros unless RAE has a bias);
- ``singular_values_`` : float64 (n_components,), singular values of ``components_``, descending
  (of the *encoder map*, not of the data: for PCA they are all 1);
- ``condition_number_`` : float, ``singular_values_[0] / singular_values_[-1]`` (``inf`` if the
  map is rank deficient).

The baselines follow the RAE paper's reference ``baselines.py`` (github.com/explorerZH/RAE-KDD2026)
so that numbers are comparable; where it differs from the reference it says so.
"""

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .validation import as_float32

logger = logging.getLogger(__name__)

REDUCERS = {}


class DimensionWarning(UserWarning):
    """``n_components`` equals the input dimension: the "reduction" reduces nothing."""


def register_reducer(name):
    """Class decorator: add the class to :data:`REDUCERS` under the lower-case ``name``."""

    def deco(cls):
        key = name.lower()
        if key in REDUCERS and REDUCERS[key] is not cls:
            raise ValueError(f"reducer name {key!r} is already registered to {REDUCERS[key].__name__}")
        REDUCERS[key] = cls
        cls.registry_name = key
        return cls

    return deco


def make_reducer(name, **params):
    """Build a reducer from its registered name and keyword hyperparameters.

    Parameters
    ----------
    name : str
        Registered name, case-insensitive: ``"pca"``, ``"rp"``, ``"umap"``, ``"isomap"``,
        ``"mds"``, ``"lpp"``, ``"rae"`` (see :data:`REDUCERS`). The reference code's spellings
        (``"PCA"``, ``"ISOMAP"``, ...) work too.
    **params
        Passed to the class, e.g. ``n_components=64, random_state=0, alpha=1e-7``.

    Returns
    -------
    An unfitted estimator.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known names).
    TypeError
        A parameter the class does not take (the message lists the ones it does).

    Examples
    --------
    >>> rae = make_reducer("rae", n_components=64, alpha=1e-7, random_state=0)  # doctest: +SKIP
    """
    if not isinstance(name, str):
        raise TypeError(f"reducer name must be a string, got {name!r}")
    key = name.lower()
    if key not in REDUCERS:
        raise ValueError(f"unknown reducer {name!r}; known reducers: {', '.join(sorted(REDUCERS))}")
    cls = REDUCERS[key]
    allowed = set(cls._get_param_names())
    bad = sorted(set(params) - allowed)
    if bad:
        raise TypeError(f"{cls.__name__} got unknown parameter(s) {bad}; it takes {sorted(allowed)}")
    return cls(**params)


class Reducer(TransformerMixin, BaseEstimator):
    """Base class: input checks shared by every reducer.

    Class attributes
    ----------------
    linear : bool
        The fitted map is ``x -> (x - mean_) @ components_.T + intercept_``.
    out_of_sample : str
        How new points are embedded: ``"exact"`` (the learned map applies as is), ``"native"``
        (the method's own extension, e.g. UMAP's / Isomap's ``transform``) or ``"ridge"``
        (a regression fitted to the training embedding; not the method itself).
    """

    linear = False
    out_of_sample = "exact"
    registry_name = None

    # -- checks --------------------------------------------------------------------------------
    def _as_X(self, X):
        """float32 2-d array with messages that name the problem (sparse, complex, 1-d, empty)."""
        import scipy.sparse

        if scipy.sparse.issparse(X):
            raise TypeError(f"{type(self).__name__} does not support sparse input; densify it first (X.toarray())")
        if not hasattr(X, "dtype"):
            X = np.asarray(X)
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported: X must hold real numbers")
        if X.dtype.kind == "O":
            try:
                X = np.asarray(X, dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise TypeError(f"X must hold numbers, got an object array that does not convert: {e}") from None
        if X.ndim == 1:
            raise ValueError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}. Reshape your data with "
                             "X.reshape(1, -1) for a single vector or X.reshape(-1, 1) for a single feature")
        if X.ndim == 2 and X.shape[1] == 0:
            raise ValueError(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        if X.ndim == 2 and X.shape[0] == 0:
            raise ValueError(f"X has 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        return as_float32(X, "X")

    def _check_fit_X(self, X, min_samples=2):
        X = self._as_X(X)
        n, d = X.shape
        if n < min_samples:
            raise ValueError(
                f"{type(self).__name__} needs at least {min_samples} samples to fit, got n_samples={n} (X shape {X.shape})"
            )
        m = self.n_components
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
            raise TypeError(f"n_components must be an integer, got {m!r}")
        if m < 1:
            raise ValueError(f"n_components must be >= 1, got {m}")
        if m > d:
            raise ValueError(
                f"n_components={m} is larger than the input dimension n_features={d}; "
                f"a reduction needs n_components <= {d}"
            )
        if m == d:
            warnings.warn(f"n_components={m} equals n_features: nothing is reduced", DimensionWarning, stacklevel=3)
        self.n_features_in_ = d
        return X

    def _check_transform_X(self, X):
        check_is_fitted(self)
        X = self._as_X(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input (dimension mismatch: transform vectors from the embedding model the reducer was fitted on)"
            )
        return X

    def _rng(self):
        return np.random.default_rng(self.random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float32"]  # every reducer returns float32
        return tags

    def fit_transform(self, X, y=None, **fit_params):
        """``fit(X).transform(X)``: the same map is applied to training and new points."""
        return self.fit(X, y, **fit_params).transform(X)


class LinearReducer(Reducer):
    """A reducer whose fitted map is linear (plus offsets); subclasses set ``components_``, ``mean_``."""

    linear = True

    def _finish_linear(self, components, mean=None, intercept=None):
        """Store the map and its singular values / condition number."""
        from .metrics import condition_number, singular_values

        W = np.ascontiguousarray(components, dtype=np.float32)
        m, d = W.shape
        self.components_ = W
        self.mean_ = np.zeros(d, np.float32) if mean is None else np.asarray(mean, np.float32).reshape(d)
        self.intercept_ = np.zeros(m, np.float32) if intercept is None else np.asarray(intercept, np.float32).reshape(m)
        self.singular_values_ = singular_values(W)
        self.condition_number_ = condition_number(W)
        return self

    def transform(self, X):
        """Apply the learned linear map.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray, float32, shape (n_samples, n_components)
        """
        X = self._check_transform_X(X)
        Z = (X - self.mean_) @ self.components_.T
        Z += self.intercept_
        return Z.astype(np.float32, copy=False)


# ============================================================================ PCA
@register_reducer("pca")
class PCA(LinearReducer):
    """Principal component analysis (scikit-learn ``PCA``), as the reference's ``PCAReducer``.

    Parameters
    ----------
    n_components : int
    random_state : int or None
        Only used by the randomised SVD solver scikit-learn picks for large inputs.
    svd_solver : str
        Passed to :class:`sklearn.decomposition.PCA` (``"auto"`` as in the reference).
    whiten : bool
        Scale components to unit variance (off in the reference).

    Attributes
    ----------
    components_ : float32 (n_components, n_features)
        Principal axes (orthonormal rows), by decreasing variance.
    mean_ : float32 (n_features,)
    explained_variance_ : float64 (n_components,)
        Variance of the data along each axis.
    singular_values_, condition_number_
        Of the encoder map: all ones and 1.0 unless ``whiten``.
    """

    def __init__(self, n_components=2, *, random_state=None, svd_solver="auto", whiten=False):
        self.n_components = n_components
        self.random_state = random_state
        self.svd_solver = svd_solver
        self.whiten = whiten

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA as _PCA

        X = self._check_fit_X(X)
        if self.n_components > X.shape[0]:
            raise ValueError(f"PCA: n_components={self.n_components} exceeds n_samples={X.shape[0]}")
        p = _PCA(self.n_components, svd_solver=self.svd_solver, whiten=self.whiten, random_state=self.random_state)
        p.fit(X)
        W = p.components_
        if self.whiten:
            W = W / np.sqrt(p.explained_variance_)[:, None]
        self.explained_variance_ = p.explained_variance_.astype(np.float64)
        self.explained_variance_ratio_ = p.explained_variance_ratio_.astype(np.float64)
        return self._finish_linear(W, mean=p.mean_)


# ============================================================================ random projection
@register_reducer("rp")
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


# ============================================================================ UMAP
@register_reducer("umap")
class UMAP(Reducer):
    """UMAP (umap-learn) with the reference's settings: ``n_neighbors=5``, ``min_dist=0.2``, Euclidean.

    New points are embedded with umap-learn's own ``transform`` (``out_of_sample="native"``):
    an approximation that places them by their neighbours in the training set. The first import
    of umap compiles with numba (about 16 s); later imports take about 3 s.

    Attributes
    ----------
    model_ : umap.UMAP
    """

    out_of_sample = "native"

    def __init__(self, n_components=2, *, n_neighbors=5, min_dist=0.2, metric="euclidean", n_epochs=None,
                 random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state

    def fit(self, X, y=None):
        try:
            import umap
        except ImportError as e:  # pragma: no cover - umap-learn is a core dependency
            raise ImportError("UMAP needs umap-learn: pip install umap-learn") from e
        X = self._check_fit_X(X, min_samples=self.n_neighbors + 1 if isinstance(self.n_neighbors, int) else 2)
        with warnings.catch_warnings():
            # "n_jobs value 1 overridden to 1 by setting random_state": expected with a seed
            warnings.filterwarnings("ignore", message=".*n_jobs value.*", category=UserWarning)
            self.model_ = umap.UMAP(n_components=self.n_components, n_neighbors=self.n_neighbors,
                                    min_dist=self.min_dist, metric=self.metric, n_epochs=self.n_epochs,
                                    random_state=self.random_state).fit(X)
        return self

    def transform(self, X):
        X = self._check_transform_X(X)
        return np.asarray(self.model_.transform(X), dtype=np.float32)


# ============================================================================ Isomap
@register_reducer("isomap")
class Isomap(Reducer):
    """Isomap (scikit-learn) with the reference's ``n_neighbors=10``.

    New points use scikit-learn's out-of-sample extension (geodesic distances through their
    neighbours in the training graph), ``out_of_sample="native"``.

    ``random_state``: scikit-learn's Isomap takes no seed, but for large inputs its eigensolver
    (ARPACK) starts from a vector drawn from numpy's *global* RNG. The fit seeds that RNG with
    ``random_state`` for its duration and restores it afterwards, so results are reproducible.

    Attributes
    ----------
    model_ : sklearn.manifold.Isomap
    """

    out_of_sample = "native"

    def __init__(self, n_components=2, *, n_neighbors=10, n_jobs=None, random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.manifold import Isomap as _Isomap

        X = self._check_fit_X(X, min_samples=self.n_neighbors + 1)
        iso = _Isomap(n_components=self.n_components, n_neighbors=self.n_neighbors, n_jobs=self.n_jobs)
        state = np.random.get_state()
        if self.random_state is not None:
            np.random.seed(int(self.random_state))
        try:
            self.model_ = iso.fit(X)
        finally:
            np.random.set_state(state)
        return self

    def transform(self, X):
        X = self._check_transform_X(X)
        return np.asarray(self.model_.transform(X), dtype=np.float32)


# ============================================================================ MDS
@register_reducer("mds")
class MDS(Reducer):
    """Metric MDS (SMACOF) on at most ``max_samples`` points, extended by a ridge regression.

    As in the reference: ``max_samples`` rows (5,000) are drawn without replacement with
    ``numpy.random.default_rng(random_state)``, their Euclidean distance matrix is embedded by
    scikit-learn's SMACOF (``n_init=1``, ``max_iter=400``, random initialisation), and a ridge
    regression ``X -> embedding`` (``Ridge(alpha=ridge_alpha)``) is fitted on them.
    ``transform`` — for the training points too — applies that regression.

    **This is not a true out-of-sample MDS** (``out_of_sample="ridge"``): the reduced vectors are
    an affine function of the inputs fitted to mimic the MDS embedding, so the method is, in
    effect, a linear map learned from SMACOF targets. Cost: O(max_samples²) memory and
    O(max_iter · max_samples² · n_components) time.

    Attributes
    ----------
    embedding_ : float32 (n_fit, n_components)
        SMACOF embedding of the sampled points.
    sample_indices_ : int64 (n_fit,)
        Which rows of X were embedded.
    stress_ : float
    ridge_ : sklearn.linear_model.Ridge
    """

    out_of_sample = "ridge"

    def __init__(self, n_components=2, *, max_samples=5000, max_iter=400, n_init=1, ridge_alpha=1.0,
                 random_state=None, n_jobs=None):
        self.n_components = n_components
        self.max_samples = max_samples
        self.max_iter = max_iter
        self.n_init = n_init
        self.ridge_alpha = ridge_alpha
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        from sklearn.linear_model import Ridge
        from sklearn.manifold import MDS as _MDS
        from sklearn.metrics import pairwise_distances

        X = self._check_fit_X(X, min_samples=2)
        n = X.shape[0]
        if n > self.max_samples:
            idx = self._rng().choice(n, self.max_samples, replace=False)
        else:
            idx = np.arange(n)
        Xs = X[idx]
        mds = _MDS(n_components=self.n_components, metric_mds=True, n_init=self.n_init, init="random",
                   max_iter=self.max_iter, random_state=self.random_state, metric="precomputed", n_jobs=self.n_jobs)
        Z = mds.fit_transform(pairwise_distances(Xs, metric="euclidean"))
        self.embedding_ = Z.astype(np.float32)
        self.sample_indices_ = np.asarray(idx, dtype=np.int64)
        self.stress_ = float(mds.stress_)
        self.n_iter_ = int(mds.n_iter_)
        self.ridge_ = Ridge(alpha=self.ridge_alpha).fit(Xs, Z)
        return self

    def transform(self, X):
        X = self._check_transform_X(X)
        return np.asarray(self.ridge_.predict(X), dtype=np.float32)


# ============================================================================ LPP
@register_reducer("lpp")
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

        from .knn import knn_search

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


# RAE lives in its own module; importing it registers "rae".
from . import rae as _rae  # noqa: E402,F401
