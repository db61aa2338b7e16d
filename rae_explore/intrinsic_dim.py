"""Intrinsic dimension: every scikit-dimension estimator, fast, in one tidy table.

:func:`estimate_id` runs scikit-dimension 0.5's estimators by name and returns one row per
estimator (estimate, seconds, extra memory, status). :func:`local_id` returns the pointwise
(local) estimates, one row per point, for a histogram of local ID.

What "fast" means here
----------------------
The estimators keep scikit-dimension's meaning and defaults; only *how* they are computed
changes:

- **Neighbours** come from :func:`rae_explore.knn.knn_search` (exact faiss search, in blocks),
  computed once for the largest ``k`` any selected estimator needs and shared by all of them
  (:func:`nearest_neighbours`). faiss returns squared L2 computed as
  ``|x|^2 + |y|^2 - 2 x.y`` in float32, which rounds small distances badly (two distinct
  points can come out at distance 0 -- the float32 fault TwoNN's ratios divide by). So the
  data are centred first, and the leading ``n_exact`` columns (all that MLE, TLE, MADA, TwoNN,
  GRIDE, MiND_ML, DANCo and CorrInt's radii use) are recomputed in float64 and re-sorted.
- **MLE, MOM** take the precomputed neighbours (``precomputed_knn_arrays``); MLE's per-point
  Python loop is vectorised. **TwoNN** gets ``TwoNN(dist=True).fit(np.c_[r1, r2])``.
  **GRIDE, MiND_ML** run scikit-dimension's own code with its ``get_nn`` replaced, inside a
  context manager, by a lookup into the shared neighbours.
- **MADA** builds the full distance matrix only to read each point's k-th and (k/2)-th
  *non-zero* distance (it replaces zeros, i.e. self and duplicates, by the global maximum):
  read from the neighbour lists instead.
- **TLE, ESS** loop in Python over points, each on its own neighbourhood: vectorised over
  blocks of points with the same formulas (ESS: every pair of the 100 neighbours when
  ``C(k, 2) <= 5000``, as scikit-dimension; above that its random draws are replayed).
- **KNN** builds the full distance matrix but reads at most ``k + 4`` rows of it, on tiny
  random subsets: those distances are computed on demand (same random draws, same values).
- **CorrInt** counts all pairs closer than two radii (medians of the k1-th and k2-th
  neighbour distances): counted from the neighbour lists; only pairs between two points whose
  lists stop short of the radius need a wider exact search, among those points alone.
- **FisherS** thresholds all n^2 normalised inner products after its PCA whitening: the same
  counts from tiled float32 GEMMs over half the (symmetric) Gram matrix, keeping only entries
  above the smallest alpha, with no n x n matrix in memory.
- **DANCo** (simulated calibration): data statistics from the shared neighbours, angle and
  von Mises statistics vectorised; the calibration draws the same hyperballs from the same
  random state and searches them with faiss. Its cost grows as ``n^2 * D^2`` (D = ambient
  dimension), so the budget skips it on large sets. **DANCoFit** (the calibrated-table
  variant) only exists for ``20 <= n <= 5000`` and ``D <= 100``; above 5,000 points it is
  computed on a seeded 5,000-point subsample, and on more than 100 columns ``D`` is set to
  100 (the row's note says so in both cases).
- **PH** draws ``nsteps * subsamples`` (1,000) random subsets of n/2..n points and needs a
  minimum spanning tree of each over the full distance matrix: inherently
  ``O(1000 * n^2)`` time and ``O(n^2)`` memory. Its MSTs run as dense Prim, the subsamples of
  one size together (same total persistence), but above a few thousand points it is skipped
  by the budget.
- **lPCA** (global) is already fast in scikit-dimension and runs unchanged.

Duplicates
----------
Exact duplicate rows are dropped first by default (``deduplicate=True``): zero distances
make MLE and MiND_ML divide by zero, DANCo return NaN, TwoNN and GRIDE drop points. Plain
scikit-dimension hides part of this because its float32 neighbour distances between
duplicates come out as rounding noise instead of 0.

Budget and threads
------------------
``budget_s`` is per estimator: its cost is *predicted* from ``n``, ``d`` and its parameters
(:func:`predict_seconds`, constants measured on an idle 2-core machine), multiplied by how much
slower than predicted the shared neighbour search ran, before it starts; an estimator
predicted to take longer is not started and gets the status ``"skipped: over budget (...)"``.
The shared neighbour search is not part of any estimator's cost (its time is in
``table.attrs["neighbours_seconds"]``). On a 2-core machine shared with other jobs,
multi-threaded BLAS/OpenMP code that waits on descheduled threads runs many times slower than
single-threaded code, so numpy's BLAS runs single-threaded inside the estimators, and faiss and
torch get as many threads as there are idle cores.

Every fast path is checked against plain scikit-dimension on the same data in
``tests/test_intrinsic_dim.py`` (``fast=False`` runs plain scikit-dimension).
"""

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from ._imports import import_skdim
from .formats import atomic_write
from .knn import knn_search
from .paths import DATA_DIR

logger = logging.getLogger(__name__)

#: Estimator names accepted by :func:`estimate_id` (scikit-dimension 0.5's ``skdim.id`` classes,
#: plus ``DANCoFit``, DANCo with its precomputed calibration table).
ESTIMATORS = ("lPCA", "MLE", "TwoNN", "DANCo", "DANCoFit", "ESS", "FisherS", "CorrInt", "KNN", "MADA",
              "MiND_ML", "MOM", "TLE", "GRIDE", "PH")

#: Estimators with pointwise (local) estimates, for :func:`local_id`.
LOCAL_ESTIMATORS = ("MLE", "TLE", "MOM", "MADA", "ESS", "lPCA")

#: Estimators whose result depends on a random state (seeded from ``random_state``).
_STOCHASTIC = ("DANCo", "DANCoFit", "KNN", "ESS", "PH", "lPCA")

# scikit-dimension's LocalEstimator default neighbourhood sizes
_LOCAL_DEFAULT_K = {"MLE": 20, "MOM": 100, "TLE": 20, "ESS": 100, "MADA": 20}

#: Where DANCo's simulated calibrations are kept between runs. A calibration depends only on
#: N (rows), k, D and the seed — hyperballs drawn from the seed, not the data — so a cached one
#: gives bit-identical estimates. ``estimate_id(..., cache_dir=None)`` disables the cache.
DANCO_CACHE_DIR = DATA_DIR / "cache" / "danco-calibration"
DANCO_FIT_MAX_N = 5000  # DANCoFit's calibration table covers 20 <= N <= 5000 ...
DANCO_FIT_MAX_D = 100  # ... and dimensions 1..100
_MARGIN = 4  # extra exact columns so that re-sorting cannot miss a neighbour at the boundary


_skdim = import_skdim


# --------------------------------------------------------------------------- input checks
def _check_X(X, name="X", min_samples=3, min_features=2):
    """2-d float array (float64 kept, anything else as float32), finite, >= min_samples rows."""
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        hint = " (a single vector? use X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape {X.shape}{hint}")
    X = np.ascontiguousarray(X, dtype=np.float64 if X.dtype == np.float64 else np.float32)
    if X.shape[0] < min_samples or X.shape[1] < min_features:
        raise ValueError(f"{name} needs at least {min_samples} rows and {min_features} columns, "
                         f"got shape {X.shape}")
    ok = np.isfinite(X).all(axis=1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        raise ValueError(f"{name} contains NaN or inf in {bad.size} row(s), first at row {int(bad[0])}; "
                         "drop or impute those rows first (e.g. X[np.isfinite(X).all(axis=1)])")
    return X


def first_occurrence(X):
    """For every row, the index of the first row exactly equal to it (itself if unique).

    Rows are hashed (O(n d)) and equal hashes verified, so this is exact. ``-0.0`` equals ``0.0``.

    Returns
    -------
    rep : ndarray, int64, shape (n,)
        ``rep[i] == i`` for the first occurrence of each distinct row.
    """
    X = np.asarray(X)
    n, d = X.shape
    Xz = X + X.dtype.type(0)  # -0.0 -> 0.0, so equal values have equal bits
    u = Xz.view(np.uint32 if Xz.dtype.itemsize == 4 else np.uint64)
    w = np.random.default_rng(12345).integers(1, 2**63, size=d, dtype=np.uint64) | np.uint64(1)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j0 in range(0, d, 32):
            h += (u[:, j0:j0 + 32].astype(np.uint64) * w[j0:j0 + 32]).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    rep = first[inverse.ravel()].astype(np.int64)
    differs = rep != np.arange(n)
    if differs.any() and not (Xz[rep[differs]] == Xz[differs]).all():  # a hash collision: exact fallback
        _, first, inverse = np.unique(Xz, axis=0, return_index=True, return_inverse=True)
        rep = first[inverse.ravel()].astype(np.int64)
    return rep


def _deduplicate(X, enabled):
    """(unique rows in their original order, row -> unique-row map or None, number dropped)."""
    if not enabled:
        return X, None, 0
    rep = first_occurrence(X)
    keep = rep == np.arange(len(X))
    if keep.all():
        return X, None, 0
    pos = np.cumsum(keep) - 1  # position of each kept row among the kept ones
    return np.ascontiguousarray(X[keep]), pos[rep], int((~keep).sum())


# --------------------------------------------------------------------------- shared neighbours
@dataclasses.dataclass(frozen=True)
class Neighbours:
    """Exact k-nearest neighbours of every row of ``X`` among the others (self excluded).

    Attributes
    ----------
    dist : ndarray, float64, shape (n, k)
        Euclidean distances (not squared), ascending per row. The first ``n_exact`` columns are
        exact float64 distances; later ones are faiss's float32 distances (centred data).
    idx : ndarray, int64, shape (n, k)
        Row ids. Duplicate rows of ``X`` appear as each other's neighbours at distance 0.
    n_exact : int
    seconds : float
        Wall time of the search.
    """

    dist: np.ndarray
    idx: np.ndarray
    n_exact: int
    seconds: float = 0.0

    @property
    def k(self):
        return self.idx.shape[1]

    @property
    def n_duplicates(self):
        """Rows whose nearest neighbour is at distance 0 (they have an exact duplicate)."""
        return int((self.dist[:, 0] == 0).sum())

    def take(self, k):
        """``(dist[:, :k], idx[:, :k])``; raises if fewer than ``k`` neighbours were computed."""
        if k > self.k:
            raise ValueError(f"{k} neighbours requested but only {self.k} were computed; "
                             f"call nearest_neighbours(X, k={k})")
        return self.dist[:, :k], self.idx[:, :k]


def _sq_dist_exact(Xc, sq, rows, J):
    """Exact float64 squared distances between rows ``rows`` (B,) and ``J`` (B, m) of centred ``Xc``."""
    G = np.einsum("bmd,bd->bm", Xc[J], Xc[rows])
    d2 = sq[rows, None] + sq[J] - 2.0 * G
    # |x|^2 + |y|^2 - 2xy loses digits when the two points are much closer than their norms:
    # recompute those (and duplicates, which must come out exactly 0) from differences
    bad = d2 < 1e-6 * (sq[rows, None] + sq[J])
    if bad.any():
        bi, bj = np.nonzero(bad)
        diff = Xc[J[bi, bj]] - Xc[rows[bi]]
        d2[bi, bj] = np.einsum("md,md->m", diff, diff)
    return d2


def nearest_neighbours(X, k, *, n_exact=32, block_rows=2048, verbose=False):
    """Exact k-NN of every row of ``X`` among the other rows, shared by all estimators.

    faiss (:func:`rae_explore.knn.knn_search`, exact, blocked, ``exclude_self=True`` which is
    duplicate-safe) finds the neighbours on the centred data; the first ``n_exact`` (+4)
    columns are then recomputed in float64 and re-sorted, so the distances the estimators
    depend on are exact and duplicates are at distance exactly 0.

    Parameters
    ----------
    X : array-like, shape (n, d)
    k : int
        Neighbours per row, ``1 <= k <= n - 1``.
    n_exact : int
        Leading columns recomputed exactly (default 32 covers every default neighbourhood
        except MOM's and ESS's 100, which use faiss's float32 distances / only the ids).
    block_rows : int
        Rows per block of the float64 recomputation (memory ~ block_rows * n_exact * d * 8 B).
    verbose : bool
        tqdm progress of the faiss search.

    Returns
    -------
    Neighbours
    """
    X = _check_X(X, min_samples=2, min_features=1)
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an integer in [1, n - 1 = {n - 1}], got {k!r}")
    t0 = time.perf_counter()
    Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
    k_fetch = min(n - 1, k + _MARGIN)
    D2, I = _faiss_self_knn(Xc, k_fetch, verbose)
    dist = np.sqrt(np.maximum(D2, 0, dtype=np.float64))
    m = min(k_fetch, int(n_exact) + _MARGIN)
    if m > 0:
        sq = np.einsum("nd,nd->n", Xc, Xc)
        for s in range(0, n, block_rows):
            rows = np.arange(s, min(s + block_rows, n))
            J = I[rows, :m]
            d = np.sqrt(_sq_dist_exact(Xc, sq, rows, J))
            order = np.argsort(d, axis=1, kind="stable")
            dist[rows, :m] = np.take_along_axis(d, order, axis=1)
            I[rows, :m] = np.take_along_axis(J, order, axis=1)
    nb = Neighbours(np.ascontiguousarray(dist[:, :k]), np.ascontiguousarray(I[:, :k]), min(k, int(n_exact)),
                    time.perf_counter() - t0)
    logger.info("exact %d-NN of %d x %d in %.2f s (%d rows with a duplicate)", k, n, X.shape[1], nb.seconds,
                nb.n_duplicates)
    return nb


def _faiss_self_knn(Xc, k, verbose):
    """faiss exact self-search on the centred data (float32), self excluded."""
    x32 = np.ascontiguousarray(Xc, dtype=np.float32)
    with _faiss_threads():
        return knn_search(x32, x32, k, "l2", exclude_self=True, verbose=verbose)


_THREADS_CHOICE = {"t": -1e9, "n": None}


@contextlib.contextmanager
def _faiss_threads(n=None):
    """faiss's OpenMP threads for the block: as many as there are idle cores (at least one).

    On a machine shared with other jobs, faiss's threads spin-wait for each other whenever one
    of them is descheduled: an exact search on 2 busy cores was measured 2-4x *slower* with 2
    threads than with 1. The idle share of the CPUs is sampled from /proc/stat for 0.1 s (at
    most every 30 s); the previous setting is restored afterwards.
    """
    import faiss

    old = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(_threads_now(old) if n is None else n))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(old)


def _threads_now(n_all):
    """How many of ``n_all`` threads to use now: the idle cores, sampled at most every 30 s."""
    now = time.monotonic()
    if now - _THREADS_CHOICE["t"] > 30 or _THREADS_CHOICE["n"] is None:
        _THREADS_CHOICE.update(t=now, n=_idle_cores(os.cpu_count() or n_all))
    return max(1, min(n_all, _THREADS_CHOICE["n"]))


def _idle_cores(n_all, interval=0.1):
    """Cores (1..n_all) left idle by other processes, from two /proc/stat samples; n_all if unknown."""

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v[:8])  # idle + iowait, total (without guest time)

    try:
        i0, t0 = sample()
        time.sleep(interval)
        i1, t1 = sample()
    except (OSError, ValueError, IndexError):
        return n_all
    if t1 <= t0:
        return n_all
    ncpu = os.cpu_count() or n_all
    busy = (1 - (i1 - i0) / (t1 - t0)) * ncpu  # cores used by others (this process was asleep)
    return int(max(1, min(n_all, round(ncpu - busy))))


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _patched(module, **attrs):
    """Temporarily replace module-level names (e.g. scikit-dimension's ``get_nn``)."""
    old = {name: getattr(module, name) for name in attrs}
    try:
        for name, value in attrs.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


def _neighbour_lookup(X_data, nb):
    """A drop-in for ``skdim.get_nn``: the shared neighbours for ``X_data``, faiss for anything else."""

    def get_nn(X, k, n_jobs=1):
        if X is X_data and nb is not None and k <= nb.k:
            return nb.take(k)
        other = nearest_neighbours(X, k, n_exact=k)
        return other.dist, other.idx

    return get_nn


def _full_row_dist(X, rows):
    """Exact float64 distances from each of ``rows`` to every row of X (for rare fallbacks)."""
    X64 = np.asarray(X, dtype=np.float64)
    out = np.empty((len(rows), X64.shape[0]))
    for t, i in enumerate(rows):
        diff = X64 - X64[i]
        out[t] = np.sqrt(np.einsum("nd,nd->n", diff, diff))
    return out


def _blocks(n, rows):
    for s in range(0, n, rows):
        yield np.arange(s, min(s + rows, n))


# --------------------------------------------------------------------------- fast estimators
def _fast_classes():
    """Subclasses of scikit-dimension's estimators whose slow inner parts are vectorised.

    Each keeps its parent's parameters, checks and combination of pointwise estimates; only the
    overridden method changes, and only in how it computes the same quantity.
    """
    skdim = _skdim()
    sid = skdim.id

    class FastMLE(sid.MLE):
        def _maxLikPointwiseDimEst(self, dists):
            if self.dnoise is not None:  # integrals per point: scikit-dimension's own loop
                return super()._maxLikPointwiseDimEst(dists)
            # Levina-Bickel / Haro without noise: (k - 1) / sum_j log(R_k / R_j), per row
            k = dists.shape[1]
            kfac = k - 2 if self.unbiased else k - 1
            Rk = dists.max(axis=1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                return kfac / np.sum(np.log(Rk / dists), axis=1)

    class FastTLE(sid.TLE):
        def _fit(self, X, dists, knnidx, n_jobs=1):
            self.dimension_pw_ = _tle_pointwise(X, np.asarray(dists, dtype=np.float64), knnidx, self.epsilon)

    class FastESS(sid.ESS):
        def _fit(self, X, dists, knnidx, n_jobs=1):
            self.random_state_ = sid._ESS.check_random_generator(self.random_state)
            self.dimension_pw_, self.essval_ = _ess_pointwise(self, X, knnidx)

    class FastMADA(sid.MADA):
        _nb = None

        def _mada(self, X):
            if self.DM:
                return super()._mada(X)
            return _mada_pointwise(X, self._nb, self.n_neighbors_)

    class FastCorrInt(sid.CorrInt):
        _nb = None

        def _corrint(self, X):
            if self.DM:
                return super()._corrint(X)
            return _corrint_fast(X, self._nb, self._k1, self._k2)

    class FastFisherS(sid.FisherS):
        def _checkSeparabilityMultipleAlpha(self, data):
            return _fisher_separability(self, data)

    class FastDANCo(sid.DANCo):
        _cache_dir = None
        _cal_cached = False

        def _DancoCalibrationData(self, N):
            cal = load_danco_calibration(self._cache_dir, N, self._k, self._D, self.random_state)
            if cal is not None:
                self._cal_cached = True
                return cal
            return super()._DancoCalibrationData(N)

        def _angles(self, X, nbs):
            thetas, clipped = _danco_angles(X, nbs)
            if clipped:
                self._warned = True  # scikit-dimension prints a duplicate-rows warning here
            return thetas

        def _dancoDimEstNoCalibration(self, X, D, n_jobs=1):
            # scikit-dimension's method with the per-point von Mises fits vectorised
            nbh_data, idx = sid._DANCo.get_nn(X, self._k + 1, n_jobs=n_jobs)
            rhos = nbh_data[:, 0] / nbh_data[:, -1]
            d_MIND_MLi = self._MIND_MLi(rhos, D)
            d_MIND_MLk = self._MIND_MLk(rhos, D, d_MIND_MLi)
            thetas = self._angles(X, idx[:, : self._k])
            nu, tau = _von_mises_ml(thetas, self._Ainv)
            mu_nu, mu_tau = np.mean(nu), np.mean(tau)
            if X.shape[1] == 1:
                mu_tau = 1
            return dict(dhat=d_MIND_MLk, mu_nu=mu_nu, mu_tau=mu_tau)

    return dict(MLE=FastMLE, TLE=FastTLE, ESS=FastESS, MADA=FastMADA, CorrInt=FastCorrInt, FisherS=FastFisherS,
                DANCo=FastDANCo)


_FAST = None


def _fast(name):
    global _FAST
    if _FAST is None:
        _FAST = _fast_classes()
    return _FAST[name]


def _tle_pointwise(X, dists, knnidx, eps, block_rows=1024):
    """TLE (``skdim.id.TLE._idtle``, central measurements and reflections) for every point at once.

    Same formulas, boundary cases and order of corrections as scikit-dimension, on (B, k, k)
    arrays instead of one (k, k) array per point.
    """
    X64 = np.asarray(X, dtype=np.float64)
    n, k = knnidx.shape
    if (dists[:, -1] == 0).any():
        raise ValueError("All k-NN distances are zero!")  # scikit-dimension's own failure
    out = np.empty(n)
    eye = np.eye(k, dtype=bool)
    for rows in _blocks(n, block_rows):
        J = knnidx[rows]
        d = dists[rows]
        # pairwise distances among each point's neighbours (pdist(nn) in scikit-dimension)
        N = X64[J] - X64[rows, None, :]
        G = N @ N.transpose(0, 2, 1)
        sq = np.einsum("bkk->bk", G)
        V2 = sq[:, :, None] + sq[:, None, :] - 2 * G
        bad = (V2 < 1e-6 * (sq[:, :, None] + sq[:, None, :])) & ~eye
        if bad.any():
            b, a, c = np.nonzero(bad)
            diff = X64[J[b, a]] - X64[J[b, c]]
            V2[b, a, c] = np.einsum("md,md->m", diff, diff)
        V = np.sqrt(np.maximum(V2, 0))
        V[:, eye] = 0
        r = d[:, -1][:, None, None]
        Di = np.broadcast_to(d[:, :, None], V.shape)
        Dj = np.broadcast_to(d[:, None, :], V.shape)
        with np.errstate(all="ignore"):
            Z2 = 2 * Di**2 + 2 * Dj**2 - V**2
            S = r * (((Di**2 + V**2 - Dj**2) ** 2 + 4 * V**2 * (r**2 - Di**2)) ** 0.5
                     - (Di**2 + V**2 - Dj**2)) / (2 * (r**2 - Di**2))
            T = r * (((Di**2 + Z2 - Dj**2) ** 2 + 4 * Z2 * (r**2 - Di**2)) ** 0.5
                     - (Di**2 + Z2 - Dj**2)) / (2 * (r**2 - Di**2))
            # repeating k-NN distances (rows i with D_i == r)
            Dr = np.broadcast_to((d == d[:, -1:])[:, :, None], V.shape)
            S = np.where(Dr, r * V**2 / (r**2 + V**2 - Dj**2), S)
            T = np.where(Dr, r * Z2 / (r**2 + Z2 - Dj**2), T)
            # boundary case 2: u_i = 0
            Di0 = Di == 0
            T = np.where(Di0, Dj, T)
            S = np.where(Di0, Dj, S)
            # boundary case 3: u_j = 0
            Dj0 = Dj == 0
            T = np.where(Dj0, r * V / (r + V), T)
            S = np.where(Dj0, r * V / (r + V), S)
            # boundary case 4: v_ij = 0 (off-diagonal) -> both measurements dropped
            V0 = (V == 0) & ~eye
            T = np.where(V0, r, T)
            S = np.where(V0, r, S)
            nV0 = V0.sum(axis=(1, 2))
            TSeps = ((T < eps) | (S < eps) | np.isnan(T) | np.isnan(S)) & ~eye
            nTSeps = TSeps.sum(axis=(1, 2))
            T = np.log(np.where(TSeps, r, T) / r)
            S = np.log(np.where(TSeps, r, S) / r)
            T[:, eye] = 0
            S[:, eye] = 0
            s1t = T.sum(axis=(1, 2))
            s1s = S.sum(axis=(1, 2))
            Deps = d < eps
            nDeps = Deps.sum(axis=1)
            # scikit-dimension drops the first nDeps columns (the sorted distances below eps)
            logd = np.log(d / d[:, -1:])
            keep = np.arange(k)[None, :] >= nDeps[:, None]
            s2 = np.where(keep, logd, 0).sum(axis=1)
            ID = -2 * (k**2 - nTSeps - nDeps - nV0) / (s1t + s1s + 2 * s2)
        out[rows] = np.where(s1t + s1s > -eps, 0.0, ID)
    return out


def _ess_reference(est, essval_max):
    """scikit-dimension's ESS reference curve, grown as its ``_essLocalDimEst`` grows it."""
    maxdim = 20
    table = np.asarray(est._essReference(maxdim, 1))
    increasing = est.ver == "a"
    while (increasing and essval_max > table[maxdim - 1]) or (not increasing and essval_max < table[maxdim - 1]):
        mindim, maxdim = maxdim + 1, 2 * (maxdim - 1)
        table = np.append(table, est._essReference(maxdim, mindim))
    return table


def _ess_pointwise(est, X, knnidx, block_rows=512):
    """ESS (``skdim.id.ESS._essLocalDimEst``) for every neighbourhood at once.

    ESS value of a neighbourhood: sum over pairs of centred neighbour vectors of the parallelogram
    area ``sqrt(|det Gram|)`` over the sum of the products of their lengths (ver 'a', d=1), or of
    ``|<a, b>|`` (ver 'b'). Pairs are all ``C(k, 2)`` when that is <= 5000 (scikit-dimension
    then keeps every combination); otherwise the same random subsets are drawn from the same
    generator, point after point.
    """
    if est.d != 1:
        raise NotImplementedError("vectorised ESS supports d=1 (scikit-dimension's default)")
    n, k = knnidx.shape
    dtype = np.float64 if X.dtype == np.float64 else np.float32  # scikit-dimension works in X's dtype
    if est.d + 1 > X.shape[1]:
        v = 0.0 if est.ver == "a" else 1.0
        essval = np.full(n, v)
    else:
        pa, pb = np.triu_indices(k, 1)  # itertools.combinations(range(k), 2) order
        ncomb = len(pa)
        draw = ncomb > 5000
        essval = np.empty(n)
        for rows in _blocks(n, block_rows):
            V = np.asarray(X[knnidx[rows]], dtype=dtype)
            V = V - V.mean(axis=1, keepdims=True)
            G = V @ V.transpose(0, 2, 1)
            lens = np.sqrt(np.einsum("bkk->bk", G))
            if draw:  # replay efficient_indnComb's draws for each point, in order
                sel = np.stack([np.sort(est.random_state_.choice(ncomb, 5000, replace=False)) for _ in rows])
                a, b = pa[sel], pb[sel]
                ar = np.arange(len(rows))[:, None]
                w = lens[ar, a] * lens[ar, b]
                gab = G[ar, a, b]
                gaa, gbb = G[ar, a, a], G[ar, b, b]
            else:
                w = lens[:, pa] * lens[:, pb]
                gab = G[:, pa, pb]
                gaa, gbb = G[:, pa, pa], G[:, pb, pb]
            if est.ver == "a":
                num = np.sqrt(np.abs(gaa * gbb - gab * gab))
            elif est.ver == "b":
                num = np.abs(gab)
            else:
                raise ValueError("Not a valid version")
            with np.errstate(invalid="ignore", divide="ignore"):
                essval[rows] = num.sum(axis=1, dtype=dtype) / w.sum(axis=1, dtype=dtype)
    est.essval_ = essval
    ok = ~np.isnan(essval)
    de = np.full(n, np.nan)
    if ok.any():
        table = _ess_reference(est, essval[ok].max() if est.ver == "a" else essval[ok].min())
        e = essval[ok]
        if est.ver == "a":
            i = np.searchsorted(table, e, side="right")  # bisect.bisect over the grown table
        else:
            # scikit-dimension bisects the reversed (increasing) slice of the last range
            i = _ess_index_b(table, e)
        i = np.clip(i, 1, len(table) - 1)
        de[ok] = i + (e - table[i - 1]) / (table[i] - table[i - 1])
    return de, essval


def _ess_index_b(table, e):
    """Integer part for ESS ver 'b' (decreasing reference): the index bisect would give."""
    rev = table[::-1]
    return len(table) - np.searchsorted(rev, e, side="right")


def _mada_pointwise(X, nb, k):
    """MADA's ``log 2 / log(R_k / R_{k/2})`` from the k-th and floor(k/2)-th non-zero distances.

    scikit-dimension replaces zero distances (self, duplicates) by the largest distance before
    sorting, so the radii are those of the k-th and (k/2)-th *distinct-position* neighbours.
    """
    dist = nb.dist
    k2 = int(np.floor(k / 2))
    zeros = (dist == 0).sum(axis=1)
    RK = np.empty(len(dist))
    RK2 = np.empty(len(dist))
    fits = zeros + k <= dist.shape[1]
    # rows without zeros: the columns themselves; rows with zeros: shift by their count
    rows = np.flatnonzero(fits)
    RK[rows] = dist[rows, zeros[rows] + k - 1]
    RK2[rows] = dist[rows, zeros[rows] + k2 - 1]
    rest = np.flatnonzero(~fits)
    if rest.size:
        full = _full_row_dist(X, rest)
        full[full == 0] = np.inf
        full.sort(axis=1)
        RK[rest], RK2[rest] = full[:, k - 1], full[:, k2 - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(2) / np.log(RK / RK2)


def _count_within(dist, idx, X, radii):
    """Per radius r: the number of ordered pairs (i, j != i) with d_ij < r.

    A point is *covered* when its neighbour list reaches past the largest radius: its list then
    holds every partner within reach. Pairs with a covered end are read from that end's list
    (counted twice when both ends are covered, and once more for the reverse order when the
    other end is not); only pairs between two uncovered points need a wider search, among the
    uncovered points alone.
    """
    counts = np.zeros(len(radii), dtype=np.int64)
    r_max = max(radii)
    covered = dist[:, -1] >= r_max
    rest = np.flatnonzero(~covered)
    dc, ic = dist[covered], idx[covered]
    other_uncovered = ~covered[ic]
    for t, r in enumerate(radii):
        within = dc < r
        counts[t] = int(within.sum()) + int((within & other_uncovered).sum())
    if rest.size > 1:
        m = rest.size
        Xu = X[rest]
        Xc = np.ascontiguousarray(Xu - Xu.mean(axis=0, dtype=np.float64), dtype=np.float32)
        k = min(m - 1, 2 * dist.shape[1])
        todo = np.arange(m)
        while todo.size:
            with _faiss_threads():
                D2, I = knn_search(Xc[todo], Xc, k + 1, "l2")
            d = np.sqrt(np.maximum(D2, 0, dtype=np.float64))
            not_self = I != todo[:, None]
            done = (d[:, -1] >= r_max) | (k >= m - 1)
            for t, r in enumerate(radii):
                counts[t] += int(((d[done] < r) & not_self[done]).sum())
            todo = todo[~done]
            k = min(m - 1, 2 * k)
    return counts


def _corrint_fast(X, nb, k1, k2):
    """CorrInt (``skdim.id.CorrInt._corrint``): the correlation-sum slope between two radii."""
    dists = nb.dist[:, :k2]
    r1 = np.median(dists[:, k1 - 1])
    r2 = np.median(dists[:, k2 - 1])
    n = X.shape[0]
    s1, s2 = _count_within(nb.dist, nb.idx, X, (r1, r2))
    Cr = np.array([s1 / n**2, s2 / n**2])
    estq = np.diff(np.log(Cr)) / np.log(r2 / r1)
    return estq[0]


@contextlib.contextmanager
def _torch_threads(n):
    """torch's intra-op threads set to ``n`` inside the block, restored afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _fisher_separability(est, data, tile_rows=512, tile_cols=2048):
    """``FisherS._checkSeparabilityMultipleAlpha`` without the n x n histogram pass.

    For every ordered pair (i, j != i), scikit-dimension bins ``<x_i, x_j> / <x_i, x_i>`` over
    the alphas and keeps, per alpha, the count of values >= alpha. Only values >= the smallest
    alpha matter, so each tile of the (float32) Gram matrix is thresholded there and only the
    survivors are binned; tiles above the diagonal serve rows and columns alike. The tiles are
    small enough to stay in cache; torch gets as many threads as there are idle cores (many
    small two-thread GEMMs on a 2-core machine busy with other jobs ran up to 20x slower).
    """

    alphas = est._alphas
    if len(alphas[:, 0]) > 1:
        alphas = alphas.T
    a = np.asarray(alphas[0, :], dtype=np.float64)  # the alphas kept in py (sorted ascending)
    if np.any(np.diff(a) <= 0):
        raise ValueError("FisherS alphas must be strictly increasing")
    n = len(data)
    data = np.ascontiguousarray(data)
    leng = np.einsum("nd,nd->n", data, data).astype(np.float64)
    thr = a[0] * leng.min() * (1 - 1e-5) if leng.min() > 0 else -np.inf
    hist = np.zeros(n * len(a), dtype=np.int64)
    na = len(a)

    def add(rows_g, vals, lo, hi):
        # histogram of the highest alpha each value reaches (rows_g all in [lo, hi))
        pos = np.searchsorted(a, vals, side="right")
        keep = pos > 0
        hist[lo * na:hi * na] += np.bincount((rows_g[keep] - lo) * na + pos[keep] - 1, minlength=(hi - lo) * na)

    import torch

    with _torch_threads(_threads_now(torch.get_num_threads())), torch.no_grad():
        T = torch.from_numpy(data)
        for r0 in range(0, n, tile_rows):
            r1 = min(r0 + tile_rows, n)
            A = T[r0:r1]
            for c0 in range(r0, n, tile_cols):
                c1 = min(c0 + tile_cols, n)
                G = A @ T[c0:c1].T
                hit = (G >= thr).nonzero()
                if hit.numel() == 0:
                    continue
                hi = hit[:, 0].numpy() + r0
                hj = hit[:, 1].numpy() + c0
                g = G[hit[:, 0], hit[:, 1]].numpy().astype(np.float64)
                upper = hj > hi  # each unordered pair once; the diagonal (j == i) never counts
                hi, hj, g = hi[upper], hj[upper], g[upper]
                add(hi, g / leng[hi], r0, r1)
                add(hj, g / leng[hj], c0, c1)
    counts = hist.reshape(n, na)[:, ::-1].cumsum(axis=1)[:, ::-1]  # count of values >= alpha
    py = (counts / (n - 1)).T
    separ_fraction = (py == 0).sum(axis=0) / n
    return separ_fraction, py


def _danco_angles(X, nbs, block_rows=4096):
    """DANCo's angles between every pair of a point's k neighbours (``DANCo._angles``), vectorised."""
    n, k = nbs.shape
    pa, pb = np.triu_indices(k, 1)
    thetas = np.empty((n, len(pa)))
    clipped = False
    X64 = np.asarray(X, dtype=np.float64)
    for rows in _blocks(n, block_rows):
        vec = X64[nbs[rows]] - X64[rows, None, :]
        G = vec @ vec.transpose(0, 2, 1)  # all scalar products at once (k x k per point)
        vec_len = np.sqrt(np.einsum("bkk->bk", G))
        sc = G[:, pa, pb]
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = sc / (vec_len[:, pa] * vec_len[:, pb])
        if np.any(np.abs(cos) > 1):
            clipped = True
            np.minimum(cos, 1, out=cos, where=~np.isnan(cos))
        with np.errstate(invalid="ignore"):
            thetas[rows] = np.arccos(cos)
    return thetas, clipped


def _von_mises_ml(thetas, Ainv):
    """Per-row von Mises ML fit (``DANCo._ML_VM``): location nu and concentration tau."""
    sinth, costh = np.sin(thetas), np.cos(thetas)
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = np.arctan(sinth.sum(axis=1) / costh.sum(axis=1))
    eta = np.sqrt(costh.mean(axis=1) ** 2 + sinth.mean(axis=1) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(eta < 0.53, 2 * eta + eta**3 + 5 * eta**5 / 6,
                       np.where(eta < 0.85, -0.4 + 1.39 * eta + 0.43 / (1 - eta),
                                1 / (eta**3 - 4 * eta**2 + 3 * eta)))
    tau = np.where(np.isnan(eta), np.nan, tau)
    return nu, tau


class _LazyDistances:
    """Stands in for ``squareform(pdist(X))`` inside ``skdim.id.KNN``: rows computed when read."""

    def __init__(self, X):
        self.X = X

    def __getitem__(self, key):
        from scipy.spatial.distance import cdist

        row, cols = key
        return cdist(self.X[[row]], self.X[cols])[0]


def _prim_edges(D):
    """Edge weights of a minimum spanning tree of each dense distance matrix in ``D`` (G, m, m).

    Prim's algorithm, O(m^2) per matrix, run on G matrices at once. Any MST has the same
    multiset of edge weights, so the PH0 total persistence equals scikit-dimension's (csgraph).
    """
    G, m, _ = D.shape
    ar = np.arange(G)
    key = np.array(D[:, 0, :], dtype=np.float64)
    out_tree = np.ones((G, m), dtype=bool)
    out_tree[:, 0] = False
    key[:, 0] = np.inf
    w = np.empty((G, m - 1))
    for t in range(m - 1):
        v = np.argmin(key, axis=1)
        w[:, t] = key[ar, v]
        out_tree[ar, v] = False
        key[ar, v] = np.inf
        np.minimum(key, D[ar, v], out=key, where=out_tree)
    return w


def _total_persistence_from_edges(w, alpha):
    """``skdim.id._PH._total_persistence`` given the MST edge weights ``w``."""
    return np.sum(w[:, None] ** np.atleast_1d(alpha), axis=0) if alpha.ndim else np.sum(w**alpha)


class _BatchedPrim:
    """Stands in for ``joblib.Parallel`` inside ``skdim.id.PH``: the MSTs of equal-size subsamples
    (``subsamples`` per size) run together through :func:`_prim_edges`, in the same order."""

    def __init__(self, *args, max_bytes=256 * 2**20, **kwargs):
        self.max_bytes = max_bytes

    def __call__(self, tasks):
        # consumed lazily, as joblib does with n_jobs=1: each task holds an m x m submatrix.
        # skdim issues the subsamples of one size consecutively; batch runs of equal size.
        out, batch = [], []

        def flush():
            if batch:
                Ds = np.stack([b[0] for b in batch])
                w = _prim_edges(Ds) if Ds.shape[1] > 1 else np.empty((len(batch), 0))
                out.extend(_total_persistence_from_edges(wt, np.asarray(b[1])) for wt, b in zip(w, batch))
                batch.clear()

        for _, args, _ in tasks:  # joblib.delayed: (function, (D_sub, alpha), {})
            D_sub, alpha = args
            m = len(D_sub)
            if batch and (len(batch[0][0]) != m or (len(batch) + 1) * 8 * m * m > self.max_bytes):
                flush()
            batch.append((D_sub, alpha))
        flush()
        return out


# --------------------------------------------------------------------------- registry
def _local_k(name, n_neighbors, n):
    """Neighbourhood size of a LocalEstimator: its default unless given; n - 1 at most (as skdim)."""
    k = _LOCAL_DEFAULT_K[name] if n_neighbors is None else int(n_neighbors)
    return max(1, min(k, n - 1))


def _k_needed(name, p, k_local, n):
    """Largest neighbour rank an estimator's fast path reads from the shared neighbours."""
    if name == "MLE":
        return k_local if p.get("neighborhood_based", True) else min(int(p.get("K", 5)), n - 1)
    if name in ("MOM", "TLE", "ESS", "MADA"):
        return k_local
    if name == "TwoNN":
        return 2
    if name == "GRIDE":
        n1 = int(p.get("n1", 1))
        n2 = int(p.get("n2") or 2 * n1)
        k = n2
        if p.get("multiscale", False):
            k = max(k, min(int(p.get("range_max", 64)), n - 1))
        return min(k, n - 1)
    if name == "MiND_ML":
        return min(int(p.get("k", 20)) + 1, n - 1)
    if name == "DANCo":
        k = int(p.get("k", 10))
        return min(k + 1, n - 1)
    if name == "CorrInt":
        return max(1, min(int(p.get("k2", 20)), n - 1))
    return 0  # lPCA, FisherS, KNN, PH, DANCoFit (own subsample)


# Cost model of the fast paths: seconds on an idle 2-core machine (x86-64, AVX2), fitted to
# measurements at n = 5k..100k, d = 32..128. estimate_id scales it by how much slower the
# shared neighbour search ran than _knn_seconds predicts (machines shared with other jobs).
_C_KNN = 1.3e-11  # exact faiss search, 2 threads: per (query, base vector, dimension + 16)


def _knn_seconds(n, d):
    """Predicted seconds of the exact self k-NN search of n points in d dimensions (faiss, 2 threads)."""
    return 0.01 + _C_KNN * n * n * (d + 16)


def _danco_cache_path(cache_dir, N, k, seed):
    if cache_dir is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        return None  # unseeded (or a RandomState object): nothing reproducible to key on
    from importlib.metadata import version

    return Path(cache_dir) / f"danco-N{int(N)}-k{int(k)}-seed{int(seed)}-skdim{version('scikit-dimension')}.json"


def load_danco_calibration(cache_dir, N, k, D, seed):
    """DANCo's simulated calibration for ``N`` points, ``k`` neighbours, dimensions ``1..>=D``.

    Returns the calibration dict scikit-dimension builds (``k``, ``N``, ``maxdim``,
    ``calibration_data``), or None if it is not cached for this seed. Entry ``j`` depends on
    the seed's random draws for dimensions ``1..j`` only, so a calibration up to a larger
    ``maxdim`` serves any smaller ``D``; a shorter one cannot be extended (the draws for the
    next dimension would differ) and is ignored.
    """
    path = _danco_cache_path(cache_dir, N, k, seed)
    if path is None or not path.exists():
        return None
    try:
        cal = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        logger.warning("ignoring unreadable DANCo calibration cache %s: %s", path, e)
        return None
    if cal.get("N") != N or cal.get("k") != k or cal.get("maxdim", 0) < D:
        return None
    return cal


def save_danco_calibration(cache_dir, cal, D, seed):
    """Store a calibration (atomically) unless a longer one for the same key is already cached."""
    path = _danco_cache_path(cache_dir, cal["N"], cal["k"], seed)
    if path is None or load_danco_calibration(cache_dir, cal["N"], cal["k"], cal["maxdim"], seed) is not None:
        return
    entries = [{key: float(v) for key, v in e.items()} for e in cal["calibration_data"]]
    out = {"k": int(cal["k"]), "N": int(cal["N"]), "maxdim": int(cal["maxdim"]), "calibration_data": entries}
    with atomic_write(path, "w") as f:
        json.dump(out, f)


def _neighbours_seconds(n, d, k, n_exact=32):
    """Predicted seconds of :func:`nearest_neighbours`: the faiss search and the exact float64 columns."""
    return _knn_seconds(n, d) + n * min(k, n_exact + _MARGIN) * d * 1.5e-9 + n * k * 2e-8


def predict_seconds(name, n, d, params=None, n_neighbors=None, calibration_cached=False):
    """Predicted wall time (s) of one estimator's fast path on ``n`` points in ``d`` dimensions.

    On an idle 2-core machine; excludes the shared neighbour search (:func:`_knn_seconds`).
    :func:`estimate_id` multiplies it by its measured slowdown and skips estimators whose
    prediction exceeds ``budget_s`` *before* starting them.

    Parameters
    ----------
    name : str
        Estimator name from :data:`ESTIMATORS`.
    n, d : int
        Rows and columns of the data.
    params : dict, optional
        The estimator's parameters (PH's ``nsteps``/``subsamples``/ranges, DANCo's ``D``/``k``).
    n_neighbors : int, optional
        Neighbourhood of the local estimators.
    calibration_cached : bool
        DANCo's simulated calibration is in the cache (then only the data part is predicted).

    Returns
    -------
    float
    """
    p = dict(params or {})
    name = _canonical(name)
    k = _local_k(name, n_neighbors, n) if name in _LOCAL_DEFAULT_K else 20
    if name == "lPCA":
        return 0.05 + 1e-10 * n * d * d
    if name in ("MLE", "MOM", "TwoNN", "GRIDE", "MiND_ML", "MADA"):
        return 0.02 + 1e-8 * n * k
    if name == "CorrInt":  # counts over the neighbour lists, wider searches for dense points
        return 0.05 + 1e-9 * n * 100 * d
    if name == "TLE":  # (k, k) pairwise geometry per point
        return 0.05 + n * (3.5e-8 * k * k + 2e-9 * k * d)
    if name == "ESS":  # (k, k) Gram matrix and C(k, 2) pair terms per point
        return 0.05 + n * k * k * (1.2e-11 * d + 3e-9)
    if name == "KNN":
        return 0.05
    if name == "FisherS":  # PCA, then half of the n x n Gram matrix (<= d retained components)
        return 0.2 + 1e-10 * n * d * d + 0.5 * n * n * (6e-12 * d + 6e-10)
    if name in ("DANCo", "DANCoFit"):
        kk = int(p.get("k", 10))
        if name == "DANCoFit":
            N = min(n, DANCO_FIT_MAX_N)
            return 0.3 + 0.005 * min(d, DANCO_FIT_MAX_D) + _knn_seconds(N, d) + N * kk * kk * d * 1e-9
        data = 0.3 + n * kk * kk * d * 1e-9
        if p.get("ver", "DANCo") != "DANCo" or calibration_cached:
            return data
        D = int(p.get("D") or d)
        # simulated calibration: a hyperball of n points in each dimension 1..D, searched exactly
        return data + sum(_knn_seconds(n, dd) + n * (1.5e-6 + 1e-7 * dd) for dd in range(1, D + 1))
    if name == "PH":
        nsteps, sub = int(p.get("nsteps", 100)), int(p.get("subsamples", 10))
        lo, hi = float(p.get("n_range_min", 0.5)), float(p.get("n_range_max", 1.0))
        if p.get("range_type", "fraction") == "fraction":
            lo, hi = lo * n, hi * n
        sizes = np.ceil(np.linspace(lo, hi, nsteps))
        # full pdist, then per subsample the m x m copy and Prim's m steps over m entries
        return 0.1 + 2e-9 * n * n * d + 1e-8 * sub * float(np.sum(sizes * sizes))
    raise ValueError(f"unknown estimator {name!r}")


def _canonical(name):
    lookup = {e.lower(): e for e in ESTIMATORS}
    key = str(name).lower()
    if key not in lookup:
        raise ValueError(f"unknown intrinsic-dimension estimator {name!r}; known: {', '.join(ESTIMATORS)}")
    return lookup[key]


def _resolve_estimators(estimators):
    if estimators is None or (isinstance(estimators, str) and estimators.lower() == "all"):
        return list(ESTIMATORS)
    if isinstance(estimators, str):
        estimators = [estimators]
    names = [_canonical(e) for e in estimators]
    if len(set(names)) != len(names):
        raise ValueError(f"estimators lists a name twice: {list(estimators)}")
    if not names:
        raise ValueError("estimators is empty; pass 'all' or a list of names from ESTIMATORS")
    return names


def _params_for(name, params, random_state):
    """scikit-dimension defaults + the user's params; stochastic estimators seeded from random_state."""
    user = dict((params or {}).get(name, {}))
    p = {}
    if name in _STOCHASTIC and "random_state" not in user:
        p["random_state"] = random_state
    p.update(user)
    return p


def _skdim_class(name):
    sid = _skdim().id
    return sid.DANCo if name == "DANCoFit" else getattr(sid, name)


def _check_params(name, p):
    """Raise ValueError naming the estimator if scikit-dimension does not know a parameter."""
    cls = _skdim_class(name)
    known = set(cls().get_params())
    bad = sorted(set(p) - known)
    if bad:
        raise ValueError(f"{name} has no parameter(s) {bad}; its parameters are {sorted(known)}")
    if name == "DANCoFit" and p.get("ver", "DANCoFit") != "DANCoFit":
        raise ValueError("DANCoFit is DANCo(ver='DANCoFit'); use the 'DANCo' estimator for other versions")


# --------------------------------------------------------------------------- running one estimator
def _run_fast(name, X, nb, p, k_local, random_state, cache_dir=None):
    """Fast path of one estimator: returns (dimension, pointwise or None, notes)."""
    sid = _skdim().id
    notes = []
    n = X.shape[0]
    pw = None
    if name == "MLE":
        est = _fast("MLE")(**p)
        est.fit(X, precomputed_knn_arrays=nb.take(_k_needed(name, p, k_local, n)), n_neighbors=k_local)
        pw = getattr(est, "dimension_pw_", None)
    elif name in ("MOM", "TLE", "ESS"):
        est = (sid.MOM if name == "MOM" else _fast(name))(**p)
        est.fit(X, precomputed_knn_arrays=nb.take(k_local), n_neighbors=k_local)
        pw = est.dimension_pw_
    elif name == "MADA":
        est = _fast("MADA")(**p)
        est._nb = nb
        est.fit(X, precomputed_knn_arrays=nb.take(k_local), n_neighbors=k_local)
        pw = est.dimension_pw_
    elif name == "TwoNN":
        p2 = dict(p, dist=True)
        d, _ = nb.take(2)
        est = sid.TwoNN(**p2).fit(np.ascontiguousarray(d))
    elif name == "GRIDE":
        with _patched(sid._GRIDE, get_nn=_neighbour_lookup(X, nb)):
            est = sid.GRIDE(**p).fit(X)
    elif name == "MiND_ML":
        with _patched(sid._MiND_ML, get_nn=_neighbour_lookup(X, nb)):
            est = sid.MiND_ML(**p).fit(X)
    elif name == "DANCo":
        with _patched(sid._DANCo, get_nn=_neighbour_lookup(X, nb)):
            est = _fast("DANCo")(**p)
            est._cache_dir = cache_dir
            est.fit(X)
        if est._cal_cached:
            notes.append("simulated calibration read from the cache (same N, k, D and seed)")
        elif p.get("ver", "DANCo") == "DANCo":
            save_danco_calibration(cache_dir, est.calibration_data_, est._D, est.random_state)
    elif name == "DANCoFit":
        Xs = X
        if n > DANCO_FIT_MAX_N:
            rng = np.random.default_rng(random_state)
            Xs = X[np.sort(rng.choice(n, DANCO_FIT_MAX_N, replace=False))]
            notes.append(f"computed on a seeded {DANCO_FIT_MAX_N:,}-point subsample: DANCoFit's calibration "
                         f"table covers N <= {DANCO_FIT_MAX_N:,} (use DANCo for the simulated calibration)")
        p = dict(p, ver="DANCoFit")
        if p.get("D") is None and X.shape[1] > DANCO_FIT_MAX_D:
            p["D"] = DANCO_FIT_MAX_D
            notes.append(f"D (largest dimension considered) set to {DANCO_FIT_MAX_D}: DANCoFit's table covers "
                         f"dimensions 1..{DANCO_FIT_MAX_D} and X has {X.shape[1]} columns")
        with _patched(sid._DANCo, get_nn=_neighbour_lookup(None, None)):
            est = _fast("DANCo")(**p).fit(Xs)
    elif name == "CorrInt":
        est = _fast("CorrInt")(**p)
        est._nb = nb
        est.fit(X)
    elif name == "KNN":
        with _patched(sid._KNN, pdist=lambda A: A, squareform=_LazyDistances):
            est = sid.KNN(**p).fit(X)
    elif name == "PH":
        with _patched(sid._PH, Parallel=_BatchedPrim):
            est = sid.PH(**p).fit(X)
    elif name == "FisherS":
        est = _fast("FisherS")(**p).fit(X)
    elif name == "lPCA":
        est = sid.lPCA(**p).fit(X)
    else:  # pragma: no cover - _canonical guards this
        raise ValueError(name)
    if getattr(est, "_warned", False):
        notes.append("duplicate rows may affect the result (scikit-dimension's warning)")
    return est.dimension_, pw, notes


def _run_plain(name, X, p, k_local):
    """Plain scikit-dimension: its own neighbour search and loops (the reference)."""
    cls = _skdim_class(name)
    if name == "DANCoFit":
        p = dict(p, ver="DANCoFit")
    est = cls(**p)
    if name in _LOCAL_DEFAULT_K:
        est.fit(X, n_neighbors=k_local)
    else:
        est.fit(X)
    pw = getattr(est, "dimension_pw_", None) if name in _LOCAL_DEFAULT_K else None
    return est.dimension_, pw, []


class _PeakRSS:
    """Peak resident memory of this process while the block runs (sampled from /proc, Linux)."""

    def __init__(self, interval=0.005):
        self.interval = interval
        self.start = self.peak = self._rss()
        self._stop = threading.Event()

    @staticmethod
    def _rss():
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None

    def _loop(self):
        while not self._stop.wait(self.interval):
            r = self._rss()
            if r is not None and r > self.peak:
                self.peak = r

    def __enter__(self):
        if self.start is not None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.start is not None:
            self._stop.set()
            self._thread.join()
            r = self._rss()
            if r is not None:
                self.peak = max(self.peak, r)
        return False

    @property
    def extra_mb(self):
        """Peak RSS above the RSS at the start, in MiB (NaN where /proc is unavailable)."""
        return float("nan") if self.start is None else (self.peak - self.start) / 2**20


@contextlib.contextmanager
def _single_thread_blas():
    """numpy's and scipy's OpenBLAS on one thread inside the block (faiss and torch untouched).

    The estimators make many small BLAS calls (per-neighbourhood Gram matrices, SVDs of small
    matrices). On a 2-core machine shared with other jobs, OpenBLAS's two spinning threads then
    run up to 1000x slower than one (measured: a 600 x 64 SVD in 1.8 s instead of 1.5 ms).
    """
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        yield
        return
    limits = {i["prefix"]: 1 for i in threadpool_info()
              if i.get("user_api") == "blas" and "faiss" not in i.get("filepath", "")}
    if not limits:
        yield
        return
    with threadpool_limits(limits=limits):
        yield


def _one_line(e):
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


# --------------------------------------------------------------------------- public API
def estimate_id(X, estimators="all", *, n_neighbors=None, budget_s=60.0, params=None, random_state=0, fast=True,
                deduplicate=True, neighbours=None, return_pointwise=False, cache_dir=DANCO_CACHE_DIR,
                verbose=False):
    """Global intrinsic dimension by every (or the chosen) scikit-dimension estimator.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Data (float32 or float64; other numeric types become float32). NaN/inf raise.
    estimators : "all", str or list of str
        Names from :data:`ESTIMATORS` (case-insensitive).
    n_neighbors : int, optional
        Neighbourhood size of the local estimators (MLE, MOM, TLE, ESS, MADA); default: each
        one's scikit-dimension default (20, 100, 20, 100, 20). Global estimators take their own
        neighbour parameters through ``params`` (e.g. ``{"DANCo": {"k": 10}}``).
    budget_s : float or None
        Per-estimator time budget: an estimator whose *predicted* cost
        (:func:`predict_seconds`, scaled by the measured slowdown of the shared neighbour
        search on a busy machine) exceeds it is not started and gets status
        ``"skipped: over budget (...)"``. ``None`` runs everything. Ignored when ``fast=False``.
        The shared neighbour search itself is not part of any estimator's budget.
    params : dict, optional
        ``{estimator name: {parameter: value}}``, passed to the scikit-dimension class.
    random_state : int
        Seed of the stochastic estimators (DANCo, DANCoFit, KNN, ESS, PH, lPCA), unless
        ``params`` sets their own ``random_state``.
    fast : bool
        False runs plain scikit-dimension (its own neighbour search and loops), the reference
        the fast paths are checked against; it can take minutes to hours on large ``n``.
    deduplicate : bool
        Drop exact duplicate rows (keeping the first) before estimating, in both modes. Zero
        distances break the nearest-neighbour estimators (MLE and MiND_ML divide by them and
        return 0 or 1, DANCo returns NaN, TwoNN and GRIDE drop those points); plain
        scikit-dimension hides part of it because its float32 distances between duplicates are
        rounding noise instead of 0. ``False`` keeps every row (scikit-dimension's behaviour on
        exact distances).
    neighbours : Neighbours, optional
        Precomputed :func:`nearest_neighbours` of ``X`` (after deduplication), with enough
        columns, to share them with other calls (e.g. :func:`local_id`).
    return_pointwise : bool
        Also return the pointwise estimates of the local estimators that ran (see :func:`local_id`).
    cache_dir : path or None
        Where DANCo's simulated calibration is cached (:data:`DANCO_CACHE_DIR`; None: no
        cache). The calibration depends on the number of rows, ``k``, ``D`` and the seed only,
        so a cached one gives identical estimates and removes most of DANCo's time; the budget
        prediction knows whether it is cached.
    verbose : bool
        tqdm progress over estimators (and of the neighbour search).

    Returns
    -------
    table : pandas.DataFrame
        One row per estimator with columns ``estimator``, ``dimension`` (float; NaN unless
        status is ``ok``), ``status`` (``"ok"``, ``"skipped: over budget (...)"`` or
        ``"failed: <reason>"``), ``seconds``, ``predicted_s``, ``peak_mb`` (peak extra resident
        memory while it ran, MiB), ``n_neighbors`` (neighbour rank it used, 0 if none),
        ``note``. ``table.attrs`` holds ``n`` (rows used), ``n_duplicates`` (rows dropped),
        ``d``, ``neighbours_seconds``, ``k`` and ``slowdown`` (how much slower than the cost
        model the shared neighbour search ran; the predictions are multiplied by it).
    pointwise : pandas.DataFrame
        Only with ``return_pointwise=True``: one row per point, one column per local estimator.

    Raises
    ------
    ValueError
        Unknown estimator or parameter names, bad shapes, NaN/inf, fewer than 3 rows.

    Examples
    --------
    >>> table = estimate_id(X, budget_s=30)  # doctest: +SKIP
    >>> table[["estimator", "dimension", "status", "seconds"]]  # doctest: +SKIP
    """
    import pandas as pd

    X = _check_X(X)
    X, _, n_dup = _deduplicate(X, deduplicate)
    if n_dup:
        logger.info("dropped %d duplicate rows", n_dup)
        if X.shape[0] < 3:
            raise ValueError(f"X has only {X.shape[0]} distinct rows; at least 3 are needed")
    n, d = X.shape
    names = _resolve_estimators(estimators)
    if n_neighbors is not None and (isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer))
                                    or n_neighbors < 2):
        raise ValueError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
    if params is not None:
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict {{estimator: {{param: value}}}}, got {type(params).__name__}")
        params = {_canonical(k): v for k, v in params.items()}
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be > 0 or None, got {budget_s!r}")

    plan = []
    for name in names:
        p = _params_for(name, params, random_state)
        _check_params(name, p)
        k_local = _local_k(name, n_neighbors, n) if name in _LOCAL_DEFAULT_K else None
        cached = (fast and name == "DANCo" and load_danco_calibration(
            cache_dir, n, int(p.get("k", 10)), int(p.get("D") or d), p.get("random_state")) is not None)
        pred = predict_seconds(name, n, d, p, n_neighbors, calibration_cached=cached) if fast else float("nan")
        skip = fast and budget_s is not None and pred > budget_s
        plan.append((name, p, k_local, pred, skip))

    nb = neighbours
    if nb is not None and nb.idx.shape[0] != n:
        raise ValueError(f"neighbours were computed for {nb.idx.shape[0]} rows but X has {n} "
                         "(after dropping duplicate rows: compute them on the deduplicated X)")
    k_need = max([_k_needed(nm, p, kl, n) for nm, p, kl, _, skip in plan if not skip] + [0]) if fast else 0
    t_nb, slowdown = 0.0, 1.0
    if k_need > 0 and (nb is None or nb.k < k_need):
        nb = nearest_neighbours(X, k_need, verbose=verbose)
        t_nb = nb.seconds
        expected = _neighbours_seconds(n, d, nb.k)
        if expected >= 0.2:  # a busy machine runs everything slower: scale the predictions alike
            slowdown = float(np.clip(t_nb / expected, 1.0, 50.0))
            if slowdown > 1.5:
                logger.info("neighbour search ran %.1fx slower than the cost model: predictions scaled", slowdown)
                plan = [(nm, p, kl, pred * slowdown, skip or (budget_s is not None and pred * slowdown > budget_s))
                        for nm, p, kl, pred, skip in plan]

    rows, pointwise = [], {}
    it = plan
    if verbose:
        from tqdm.auto import tqdm

        it = tqdm(plan, desc="intrinsic dimension", unit="estimator")
    for name, p, k_local, pred, skip in it:
        row = dict(estimator=name, dimension=float("nan"), status="ok", seconds=float("nan"), predicted_s=pred,
                   peak_mb=float("nan"), n_neighbors=_k_needed(name, p, k_local, n) if fast else (k_local or 0),
                   note="")
        if skip:
            row["status"] = f"skipped: over budget (predicted {pred:.3g} s > budget_s={budget_s:g})"
            rows.append(row)
            continue
        notes = []
        t0 = time.perf_counter()
        try:
            with _PeakRSS() as mem, warnings.catch_warnings(record=True) as caught, \
                    contextlib.redirect_stdout(_Sink()) as out, _single_thread_blas():
                warnings.simplefilter("always")
                if fast:
                    dim, pw, notes = _run_fast(name, X, nb, p, k_local, random_state, cache_dir)
                else:
                    dim, pw, notes = _run_plain(name, X, p, k_local)
            row["dimension"] = float(np.ravel(dim)[0]) if np.size(dim) else float("nan")
            if pw is not None and name in LOCAL_ESTIMATORS:
                pointwise[name] = np.asarray(pw, dtype=np.float64)
            row["peak_mb"] = mem.extra_mb
            extra = sorted({str(w.message).strip() for w in caught} | set(out.lines()))
            notes = list(notes) + [m for m in extra if m]
            if not np.isfinite(row["dimension"]):
                row["status"] = "failed: estimate is not finite (duplicate rows? too few points?)"
        except MemoryError:
            row["status"] = "failed: MemoryError (try a smaller n or a budget)"
        except Exception as e:  # one estimator failing must not lose the others' results
            logger.info("%s failed", name, exc_info=True)
            row["status"] = f"failed: {_one_line(e)}"
        row["seconds"] = time.perf_counter() - t0
        if fast and nb is not None and nb.n_duplicates and row["n_neighbors"]:
            notes.append(f"{nb.n_duplicates} rows have an exact duplicate (distance 0)")
        row["note"] = "; ".join(dict.fromkeys(notes))
        rows.append(row)
        logger.info("%s: %s in %.2f s (%s)", name, row["dimension"], row["seconds"], row["status"])

    table = pd.DataFrame(rows, columns=["estimator", "dimension", "status", "seconds", "predicted_s", "peak_mb",
                                        "n_neighbors", "note"])
    table.attrs.update(n=n, n_duplicates=n_dup, d=d, neighbours_seconds=t_nb, k=0 if nb is None else nb.k,
                       fast=fast, slowdown=slowdown)
    if return_pointwise:
        return table, pd.DataFrame(pointwise)
    return table


class _Sink:
    """A stdout replacement collecting what scikit-dimension prints (kept as notes)."""

    def __init__(self):
        self._parts = []

    def write(self, s):
        self._parts.append(s)
        return len(s)

    def flush(self):
        pass

    def lines(self):
        return [ln.strip() for ln in "".join(self._parts).splitlines() if ln.strip()]


def _lpca_pointwise(X, knnidx, est, block_rows=256):
    """``lPCA.fit_pw`` for the Fukunaga-Olsen rule, vectorised: the PCA spectrum of every
    neighbourhood from the eigenvalues of its (centred) Gram matrix."""
    n, k = knnidx.shape
    X64 = np.asarray(X, dtype=np.float64)
    out = np.empty(n)
    for rows in _blocks(n, block_rows):
        V = X64[knnidx[rows]]
        if est.center:
            V = V - V.mean(axis=1, keepdims=True)
        w = np.linalg.eigvalsh(V @ V.transpose(0, 2, 1))[:, ::-1]  # descending, = singular values^2
        out[rows] = (w > est.alphaFO * w[:, :1]).sum(axis=1)
    return out


def local_id(X, estimators=LOCAL_ESTIMATORS, *, n_neighbors=None, params=None, random_state=0, budget_s=None,
             deduplicate=True, neighbours=None, verbose=False):
    """Pointwise (local) intrinsic dimension of every point, for a histogram of local ID.

    MLE, TLE, MOM, MADA and ESS estimate a dimension in each point's neighbourhood and average
    them into their global estimate; these are those per-point values. ``lPCA`` is
    scikit-dimension's ``lPCA().fit_pw`` (the PCA rule applied to each point's neighbourhood,
    100 neighbours by default), vectorised for ``ver="FO"``.

    Parameters
    ----------
    X : array-like, shape (n, d)
    estimators : sequence of str
        Names from :data:`LOCAL_ESTIMATORS`.
    n_neighbors : int, optional
        Neighbourhood size for all of them (default: each one's scikit-dimension default:
        MLE 20, TLE 20, MOM 100, MADA 20, ESS 100, lPCA 100).
    params : dict, optional
        ``{estimator: {parameter: value}}``.
    random_state : int
    budget_s : float or None
        As in :func:`estimate_id`; a skipped estimator's column is absent.
    deduplicate : bool
        Estimate on the distinct rows (see :func:`estimate_id`); every copy of a duplicated row
        gets the estimate of its first occurrence.
    neighbours : Neighbours, optional
        Shared :func:`nearest_neighbours` of ``X`` (after deduplication).
    verbose : bool

    Returns
    -------
    pandas.DataFrame
        Shape (n, number of estimators that ran): one column per estimator, float64, one row
        per point (index = row of ``X``). For a long (tidy) table use
        ``df.melt(var_name="estimator", value_name="local_id")``.

    Examples
    --------
    >>> pw = local_id(X)  # doctest: +SKIP
    >>> pw.melt(var_name="estimator", value_name="local_id").groupby("estimator").describe()  # doctest: +SKIP
    """
    import pandas as pd

    X = _check_X(X)
    n_in = X.shape[0]
    X, row_map, n_dup = _deduplicate(X, deduplicate)
    n, d = X.shape
    if isinstance(estimators, str):
        estimators = [estimators]
    names = [_canonical(e) for e in estimators]
    bad = [e for e in names if e not in LOCAL_ESTIMATORS]
    if bad:
        raise ValueError(f"no pointwise estimates for {bad}; local estimators are {', '.join(LOCAL_ESTIMATORS)}")
    params = {_canonical(k): v for k, v in (params or {}).items()}
    others = [e for e in names if e != "lPCA"]
    k_pca = 0
    if "lPCA" in names:
        k_pca = max(2, min(100 if n_neighbors is None else int(n_neighbors), n - 1))
    k_need = max([_k_needed(e, _params_for(e, params, random_state), _local_k(e, n_neighbors, n), n)
                  for e in others] + [k_pca])
    nb = neighbours
    if nb is None or nb.k < k_need:
        nb = nearest_neighbours(X, k_need, verbose=verbose)
    cols = {}
    if others:
        table, pw = estimate_id(X, others, n_neighbors=n_neighbors, params=params, random_state=random_state,
                                budget_s=budget_s, deduplicate=False, neighbours=nb, return_pointwise=True,
                                verbose=verbose)
        for _, row in table.iterrows():
            if row["status"] != "ok" and row["estimator"] not in pw:
                logger.warning("local_id: %s %s", row["estimator"], row["status"])
        cols.update({c: pw[c].to_numpy() for c in pw.columns})
    if "lPCA" in names:
        p = _params_for("lPCA", params, random_state)
        _check_params("lPCA", p)
        pred = 0.05 + 3e-4 * n * (k_pca / 100) ** 3 * max(1.0, d / k_pca)
        if budget_s is not None and pred > budget_s:
            logger.warning("local_id: lPCA skipped: over budget (predicted %.3g s > budget_s=%g)", pred, budget_s)
        else:
            est = _skdim().id.lPCA(**p)
            with _single_thread_blas():
                if est.ver == "FO" and not est.fit_explained_variance:
                    cols["lPCA"] = _lpca_pointwise(X, nb.idx[:, :k_pca], est)
                else:  # other rules: scikit-dimension's own loop over neighbourhoods
                    cols["lPCA"] = np.asarray(est.fit_pw(X, precomputed_knn=nb.idx[:, :k_pca],
                                                         n_neighbors=k_pca).dimension_pw_, dtype=np.float64)
    order = [e for e in names if e in cols]
    if row_map is not None:  # back to one row per input row
        cols = {e: v[row_map] for e, v in cols.items()}
    out = pd.DataFrame({e: cols[e] for e in order}, index=pd.RangeIndex(n_in))
    out.attrs.update(n_duplicates=n_dup)
    return out
