"""Time budget of the intrinsic-dimension estimators, and the cache of DANCo's calibration.

Budget
------
``budget_s`` of :func:`rae_explore.intrinsic.estimate.estimate_id` is per estimator: its cost is
*predicted* from ``n``, ``d`` and its parameters (:func:`predict_seconds`, constants measured
on an idle 2-core machine) before it starts; an estimator predicted to take longer is not
started and gets the status ``"skipped: over budget (...)"``. The decision uses the cost model
only: not the machine's measured speed (a busy machine would skip more) nor whether DANCo's
calibration happens to be cached (a second run would skip less), so the same call on the same
data skips the same estimators on every machine and every run. Measured times are still
reported (``seconds``, and ``table.attrs["slowdown"]``: how much slower than the model the
shared neighbour search ran). The shared neighbour search is not part of any estimator's cost
(its time is in ``table.attrs["neighbours_seconds"]``).

DANCo's calibration cache
-------------------------
DANCo's simulated calibration depends on the number of rows, ``k``, ``D`` and the seed only:
:func:`save_danco_calibration` keeps it under :data:`DANCO_CACHE_DIR` and
:func:`load_danco_calibration` reads it back, giving identical estimates.
"""

import json
import logging
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..paths import DATA_DIR
from ..validation import check_int
from .estimators import (
    _LOCAL_DEFAULT_K,
    DANCO_FIT_MAX_D,
    DANCO_FIT_MAX_N,
    _canonical,
    _local_k,
)
from .graph import _MARGIN

logger = logging.getLogger(__name__)

#: Where DANCo's simulated calibrations are kept between runs. A calibration depends only on
#: N (rows), k, D and the seed — hyperballs drawn from the seed, not the data — so a cached one
#: gives bit-identical estimates. ``estimate_id(..., cache_dir=None)`` disables the cache.
DANCO_CACHE_DIR = DATA_DIR / "cache" / "danco-calibration"
#: Calibrations shipped with the repository (the default report's: sift5k's 4,500 base vectors, k=10, seed 0),
#: read whenever a cache is in use, so a fresh clone does not simulate them again (about 25 s on 2 cores).
BUNDLED_DANCO_DIR = DATA_DIR / "danco-calibration"


# Cost model of the fast paths: seconds on an idle 2-core machine (x86-64, AVX2), fitted to
# measurements at n = 5k..100k, d = 32..128. Budget decisions use it as is (deterministic); a
# busy machine runs slower than predicted, which estimate_id reports but does not act on.
_C_KNN = 1.3e-11  # exact faiss search, 2 threads: per (query, base vector, dimension + 16)


def _knn_seconds(n, d):
    """Predicted seconds of the exact self k-NN search of n points in d dimensions (faiss, 2 threads)."""
    return 0.01 + _C_KNN * n * n * (d + 16)


def _danco_cache_path(cache_dir, N, k, seed):
    if cache_dir is None:
        return None
    try:
        seed = check_int(seed, "seed")
    except TypeError:
        return None  # unseeded (or a RandomState object): nothing reproducible to key on
    from importlib.metadata import version

    return Path(cache_dir) / f"danco-N{int(N)}-k{int(k)}-seed{int(seed)}-skdim{version('scikit-dimension')}.json"


def load_danco_calibration(cache_dir, N, k, D, seed):
    """DANCo's simulated calibration for ``N`` points, ``k`` neighbours, dimensions ``1..>=D``.

    Returns the calibration dict scikit-dimension builds (``k``, ``N``, ``maxdim``,
    ``calibration_data``), or None if it is not cached for this seed. Entry ``j`` depends on
    the seed's random draws for dimensions ``1..j`` only, so a calibration up to a larger
    ``maxdim`` serves any smaller ``D``; a shorter one cannot be extended (the draws for the
    next dimension would differ) and is ignored. With a ``cache_dir``, the calibrations bundled
    in :data:`BUNDLED_DANCO_DIR` are found too.
    """
    if cache_dir is None:
        return None
    for folder in (cache_dir, BUNDLED_DANCO_DIR):
        path = _danco_cache_path(folder, N, k, seed)
        if path is None or not path.exists():
            continue
        try:
            cal = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            logger.warning("ignoring unreadable DANCo calibration cache %s: %s", path, e)
            continue
        if cal.get("N") == N and cal.get("k") == k and cal.get("maxdim", 0) >= D:
            return cal
    return None


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
    """Predicted seconds of ``nearest_neighbours``: the faiss search and the exact float64 columns."""
    return _knn_seconds(n, d) + n * min(k, n_exact + _MARGIN) * d * 1.5e-9 + n * k * 2e-8


def predict_seconds(name, n, d, params=None, n_neighbors=None, calibration_cached=False):
    """Predicted wall time (s) of one estimator's fast path on ``n`` points in ``d`` dimensions.

    On an idle 2-core machine; excludes the shared neighbour search (:func:`_knn_seconds`).
    :func:`~rae_explore.intrinsic.estimate.estimate_id` skips estimators whose prediction (with
    ``calibration_cached=False``) exceeds ``budget_s`` *before* starting them.

    Parameters
    ----------
    name : str
        Estimator name from :data:`~rae_explore.intrinsic.estimators.ESTIMATORS`.
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
