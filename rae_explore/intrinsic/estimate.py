"""Intrinsic dimension: every scikit-dimension estimator, fast, in one tidy table.

:func:`estimate_id` runs scikit-dimension 0.5's estimators by name and returns one row per
estimator (estimate, seconds, extra memory, status). :func:`local_id` returns the pointwise
(local) estimates, one row per point, for a histogram of local ID.

What "fast" means here
----------------------
The estimators keep scikit-dimension's meaning and defaults; only *how* they are computed
changes. This module runs them one by one (:func:`estimate_id`, :func:`local_id`); the pieces
live in small modules, whose public names are re-exported here:

- :mod:`rae_explore.intrinsic.graph`: the exact neighbours, computed once for the largest
  ``k`` any selected estimator needs and shared by all of them (:func:`nearest_neighbours`),
  and the exact duplicate rows (:func:`first_occurrence`);
- :mod:`rae_explore.intrinsic.fast_paths`: how each estimator's slow part is computed faster, estimator
  by estimator, and how each fast path is checked against plain scikit-dimension;
- :mod:`rae_explore.intrinsic.estimators`: the estimator names (:data:`ESTIMATORS`,
  :data:`LOCAL_ESTIMATORS`), their defaults and parameters;
- :mod:`rae_explore.intrinsic.budget`: the predicted cost of each estimator behind ``budget_s``
  (:func:`predict_seconds`) and the cache of DANCo's simulated calibration.

Duplicates
----------
Exact duplicate rows are dropped first by default (``deduplicate=True``): zero distances
make MLE and MiND_ML divide by zero, DANCo return NaN, TwoNN and GRIDE drop points. Plain
scikit-dimension hides part of this because its float32 neighbour distances between
duplicates come out as rounding noise instead of 0.

Threads
-------
On a 2-core machine shared with other jobs, multi-threaded BLAS/OpenMP code that waits on
descheduled threads runs many times slower than single-threaded code, so numpy's BLAS runs
single-threaded inside the estimators, and faiss and torch get as many threads as there are
idle cores.
"""

import contextlib
import logging
import os
import threading
import time
import warnings

import numpy as np

from .._imports import import_skdim
from ..threads import limit_threads
from ..validation import as_float32, check_int
from .budget import (
    DANCO_CACHE_DIR,
    _neighbours_seconds,
    predict_seconds,
    save_danco_calibration,
)
from .estimators import (
    _LOCAL_DEFAULT_K,
    DANCO_FIT_MAX_D,
    DANCO_FIT_MAX_N,
    LOCAL_ESTIMATORS,
    _canonical,
    _check_params,
    _k_needed,
    _local_k,
    _params_for,
    _resolve_estimators,
    _skdim_class,
)
from .fast_paths import (
    _BatchedPrim,
    _fast,
    _LazyDistances,
    _lpca_pointwise,
    _neighbour_lookup,
    _patched,
)
from .graph import _deduplicate, nearest_neighbours

logger = logging.getLogger(__name__)

_skdim = import_skdim


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
        Per-estimator time budget: an estimator whose *predicted* cost (:func:`predict_seconds`,
        a cost model of ``n``, ``d`` and its parameters on an idle 2-core machine) exceeds it is
        not started and gets status ``"skipped: over budget (...)"``. The decision depends on
        the cost model only, never on the machine's measured speed or on what is cached, so the
        same call skips the same estimators everywhere. ``None`` runs everything. Ignored when
        ``fast=False``. The shared neighbour search itself is not part of any estimator's budget.
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
        so a cached one gives identical estimates and removes most of DANCo's time (the budget
        still predicts the uncached cost, so that a warm cache never changes what is skipped).
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
        ``d``, ``neighbours_seconds``, ``k`` and ``slowdown`` (measured over predicted time of
        the shared neighbour search, NaN if none ran: how busy the machine was; reported only,
        it changes neither the predictions nor the budget's decisions).
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

    X = as_float32(X, "X", keep_float64=True, min_samples=3, min_features=2)
    X, _, n_dup = _deduplicate(X, deduplicate)
    if n_dup:
        logger.info("dropped %d duplicate rows", n_dup)
        if X.shape[0] < 3:
            raise ValueError(f"X has only {X.shape[0]} distinct rows; at least 3 are needed")
    n, d = X.shape
    names = _resolve_estimators(estimators)
    if n_neighbors is not None:
        check_int(n_neighbors, "n_neighbors", low=2)
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
        # the budget decides on the cost model alone (n, d, parameters): neither the machine's
        # speed nor what earlier runs left in DANCo's calibration cache changes what is skipped
        pred = predict_seconds(name, n, d, p, n_neighbors) if fast else float("nan")
        skip = fast and budget_s is not None and pred > budget_s
        plan.append((name, p, k_local, pred, skip))

    nb = neighbours
    if nb is not None and nb.idx.shape[0] != n:
        raise ValueError(f"neighbours were computed for {nb.idx.shape[0]} rows but X has {n} "
                         "(after dropping duplicate rows: compute them on the deduplicated X)")
    k_need = max([_k_needed(nm, p, kl, n) for nm, p, kl, _, skip in plan if not skip] + [0]) if fast else 0
    t_nb, slowdown = 0.0, float("nan")
    if k_need > 0 and (nb is None or nb.k < k_need):
        nb = nearest_neighbours(X, k_need, verbose=verbose)
        t_nb = nb.seconds
        # reported only (how busy the machine was); it never changes what the budget skips
        slowdown = t_nb / _neighbours_seconds(n, d, nb.k)

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
                    contextlib.redirect_stdout(_Sink()) as out, limit_threads(blas=1):
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

    X = as_float32(X, "X", keep_float64=True, min_samples=3, min_features=2)
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
            with limit_threads(blas=1):
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
