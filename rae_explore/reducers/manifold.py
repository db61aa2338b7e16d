"""Manifold learners as reducers: UMAP, Isomap and metric MDS.

New points are embedded by each method's own extension (UMAP, Isomap: ``out_of_sample="native"``)
or by a ridge regression fitted to the embedding (MDS: ``out_of_sample="ridge"``).
"""

import os
import warnings

import numpy as np

from ..paths import DATA_DIR
from .base import Reducer


# ============================================================================ UMAP
class UMAP(Reducer):
    """UMAP (umap-learn) with the reference's settings: ``n_neighbors=5``, ``min_dist=0.2``, Euclidean.

    New points are embedded with umap-learn's own ``transform`` (``out_of_sample="native"``):
    an approximation that places them by their neighbours in the training set. The first import
    of umap in a process compiles with numba (16 s to over a minute); the kernels numba can cache
are kept under ``data/cache/numba`` (``NUMBA_CACHE_DIR``), so a later process loads those.

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
        # numba caches umap's compiled kernels where NUMBA_CACHE_DIR says, read at numba's first
        # import: the Makefile exports it for batch kernels and tests; this covers direct use
        # (numba not yet imported) so a second process loads the kernels instead of compiling
        os.environ.setdefault("NUMBA_CACHE_DIR", str(DATA_DIR / "cache" / "numba"))
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
