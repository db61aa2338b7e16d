"""Vectorised scikit-dimension internals: the fast paths of :func:`rae_explore.intrinsic.estimate.estimate_id`.

Subclasses of scikit-dimension's estimators (:func:`_fast_classes`) and stand-ins for the pieces
of its modules that are patched while it runs; each computes the same quantity as
scikit-dimension, only faster. They read the shared neighbours of
:mod:`rae_explore.intrinsic.graph`.

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

The pointwise lPCA of :func:`rae_explore.intrinsic.estimate.local_id` is vectorised here too
(:func:`_lpca_pointwise`, the Fukunaga-Olsen rule).

Every fast path is checked against plain scikit-dimension on the same data in
``tests/test_intrinsic_dim.py`` (``fast=False`` runs plain scikit-dimension).
"""

import contextlib

import numpy as np

from .._imports import import_skdim as _skdim
from ..neighbors.knn import knn_search
from ..threads import limit_threads
from .budget import load_danco_calibration
from .graph import nearest_neighbours


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
            with limit_threads(faiss="idle"):
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

    with limit_threads(torch="idle"), torch.no_grad():
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
