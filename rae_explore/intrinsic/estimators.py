"""The intrinsic-dimension estimators by name: names, defaults, parameters, neighbourhoods.

:data:`ESTIMATORS` and :data:`LOCAL_ESTIMATORS` (re-exported by :mod:`rae_explore.intrinsic.estimate`)
name the estimators. The helpers resolve names case-insensitively, merge scikit-dimension's
defaults with the user's parameters and check them, and give the neighbourhood size of each
estimator and how many columns of the shared neighbour graph it reads.
"""

from .._imports import import_skdim as _skdim

#: Estimator names accepted by :func:`~rae_explore.intrinsic.estimate.estimate_id` (scikit-dimension 0.5's
#: ``skdim.id`` classes, plus ``DANCoFit``, DANCo with its precomputed calibration table).
ESTIMATORS = ("lPCA", "MLE", "TwoNN", "DANCo", "DANCoFit", "ESS", "FisherS", "CorrInt", "KNN", "MADA",
              "MiND_ML", "MOM", "TLE", "GRIDE", "PH")

#: Estimators with pointwise (local) estimates, for :func:`~rae_explore.intrinsic.estimate.local_id`.
LOCAL_ESTIMATORS = ("MLE", "TLE", "MOM", "MADA", "ESS", "lPCA")

#: Estimators whose result depends on a random state (seeded from ``random_state``).
_STOCHASTIC = ("DANCo", "DANCoFit", "KNN", "ESS", "PH", "lPCA")

# scikit-dimension's LocalEstimator default neighbourhood sizes
_LOCAL_DEFAULT_K = {"MLE": 20, "MOM": 100, "TLE": 20, "ESS": 100, "MADA": 20}

DANCO_FIT_MAX_N = 5000  # DANCoFit's calibration table covers 20 <= N <= 5000 ...
DANCO_FIT_MAX_D = 100  # ... and dimensions 1..100


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
