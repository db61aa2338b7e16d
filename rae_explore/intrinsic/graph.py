"""The exact neighbour graph shared by every intrinsic-dimension estimator.

:func:`nearest_neighbours` finds the exact k nearest neighbours of every row once, for the
largest ``k`` any selected estimator needs, and :func:`rae_explore.intrinsic.estimate.estimate_id`
shares them among all of them; :func:`first_occurrence` finds exact duplicate rows, which are
dropped first by default.

Neighbours come from :func:`rae_explore.neighbors.knn.knn_search` (exact faiss search, in blocks).
faiss returns squared L2 computed as ``|x|^2 + |y|^2 - 2 x.y`` in float32, which rounds small
distances badly (two distinct points can come out at distance 0 -- the float32 fault TwoNN's
ratios divide by). So the data are centred first, and the leading ``n_exact`` columns (all
that MLE, TLE, MADA, TwoNN, GRIDE, MiND_ML, DANCo and CorrInt's radii use) are recomputed in
float64 and re-sorted.

faiss (and torch, in :mod:`rae_explore.intrinsic.fast_paths`) get as many threads as there are idle
cores (``limit_threads(faiss="idle")``, :func:`rae_explore.threads.limit_threads`).
"""

import dataclasses
import logging
import time

import numpy as np

from ..neighbors.knn import knn_search
from ..threads import limit_threads
from ..validation import as_float32, check_int

logger = logging.getLogger(__name__)

_MARGIN = 4  # extra exact columns so that re-sorting cannot miss a neighbour at the boundary


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

    faiss (:func:`rae_explore.neighbors.knn.knn_search`, exact, blocked, ``exclude_self=True`` which is
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
    X = as_float32(X, "X", keep_float64=True, min_samples=2)
    n = X.shape[0]
    check_int(k, "k", low=1, high=n - 1, what=f"an integer in [1, n - 1 = {n - 1}]")
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
    with limit_threads(faiss="idle"):
        return knn_search(x32, x32, k, "l2", exclude_self=True, verbose=verbose)
