"""The intrinsic-dimension table of a large base: each estimator on all rows or on a stated subsample.

:func:`~rae_explore.intrinsic.estimate.estimate_id` runs every estimator on the same rows and
skips those predicted to exceed the budget; at 100,000 rows DANCo and PH are skipped, and at
1,000,000 the exact neighbour graph alone (``n^2`` distances) would take half an hour on 2 cores.
:func:`estimate_id_at_scale` instead gives each estimator the **largest subsample** of a fixed
ladder (all rows, 1M, 300k, 100k, 30k, 10k, 3k, 1k) whose predicted cost — the estimator's
:func:`~rae_explore.intrinsic.budget.predict_seconds` plus the neighbour search it needs — fits
``budget_s``. The choice uses the cost model only, so the same call gives the same table on every
machine. Subsamples are nested (the first ``m`` rows of one seeded permutation, read in file
order from a memory map), estimators that chose the same size share one
:func:`estimate_id` call and its neighbour graph, and every row of the table says how many rows
it used (``n_used``) and what it was drawn from.
"""

import logging

import numpy as np

from ..progress import progress_bar
from ..validation import check_2d
from .budget import _neighbours_seconds, predict_seconds
from .estimators import _LOCAL_DEFAULT_K, _canonical, _k_needed, _local_k, _params_for, _resolve_estimators

logger = logging.getLogger(__name__)

#: Subsample sizes tried, largest first (all rows come before them).
LADDER = (1_000_000, 300_000, 100_000, 30_000, 10_000, 3_000, 1_000)


def plan_subsamples(n, d, estimators="all", *, budget_s=60.0, n_neighbors=None, params=None, random_state=0,
                    ladder=LADDER):
    """The rows each estimator will use: ``{estimator: m}``, ``m`` = 0 when even the smallest size is over budget.

    Parameters
    ----------
    n, d : int
        Rows and columns of the data.
    estimators, n_neighbors, params, random_state
        As :func:`~rae_explore.intrinsic.estimate.estimate_id`.
    budget_s : float
        Seconds allowed per estimator, neighbour search included (predicted on an idle 2-core
        machine, :mod:`~rae_explore.intrinsic.budget`).
    ladder : sequence of int
        Subsample sizes below ``n`` to try, largest first.

    Returns
    -------
    dict
    """
    if not budget_s > 0:
        raise ValueError(f"budget_s must be > 0, got {budget_s!r}")
    params = {_canonical(k): v for k, v in (params or {}).items()}
    sizes = [n] + sorted({int(m) for m in ladder if 3 <= m < n}, reverse=True)
    plan = {}
    for name in _resolve_estimators(estimators):
        p = _params_for(name, params, random_state)
        plan[name] = 0
        for m in sizes:
            k_local = _local_k(name, n_neighbors, m) if name in _LOCAL_DEFAULT_K else None
            k = _k_needed(name, p, k_local, m)
            cost = predict_seconds(name, m, d, p, n_neighbors) + (_neighbours_seconds(m, d, k) if k else 0.0)
            if cost <= budget_s:
                plan[name] = m
                break
    return plan


def estimate_id_at_scale(X, estimators="all", *, budget_s=60.0, n_neighbors=None, params=None, random_state=0,
                         ladder=LADDER, verbose=False, **kwargs):
    """Global intrinsic dimension of a large ``X``: every estimator on the largest subsample its budget allows.

    Parameters
    ----------
    X : array-like, shape (n, d)
        A memory map is read only at the subsample rows (in file order).
    estimators, n_neighbors, params, random_state
        As :func:`~rae_explore.intrinsic.estimate.estimate_id` (``random_state`` also draws the
        subsamples).
    budget_s : float
        Predicted seconds per estimator, its neighbour search included (see :func:`plan_subsamples`).
    ladder : sequence of int
        Subsample sizes (all rows are tried first).
    verbose : bool
        Progress over the subsample groups.
    **kwargs
        Passed to :func:`~rae_explore.intrinsic.estimate.estimate_id` (``deduplicate``,
        ``cache_dir``, ``fast``...).

    Returns
    -------
    pandas.DataFrame
        :func:`estimate_id`'s columns plus ``n_used`` (rows the estimator ran on, after
        deduplication; 0 if skipped) and ``n_sample`` (the subsample drawn), in the order of
        ``estimators``. ``attrs``: ``n`` (all rows), ``d``, ``budget_s``, ``plan``.
    """
    import pandas as pd

    from .estimate import estimate_id

    X = X if hasattr(X, "ndim") else np.asarray(X)
    check_2d(X, "X")
    n, d = X.shape
    plan = plan_subsamples(n, d, estimators, budget_s=budget_s, n_neighbors=n_neighbors, params=params,
                           random_state=random_state, ladder=ladder)
    order = np.random.default_rng(random_state).permutation(n)
    tables = []
    groups = sorted({m for m in plan.values() if m}, reverse=True)
    for m in progress_bar(groups, desc="intrinsic dimension", unit="subsample", disable=not verbose):
        names = [e for e, mm in plan.items() if mm == m]
        Xm = X if m == n else X[np.sort(order[:m])]
        logger.info("%s on %s of %d rows", ", ".join(names), "all" if m == n else f"{m:,}", n)
        t = estimate_id(Xm, names, budget_s=None, n_neighbors=n_neighbors, params=params,
                        random_state=random_state, verbose=verbose, **kwargs)
        t["n_used"] = int(t.attrs.get("n", m))
        t["n_sample"] = m
        how = "all rows" if m == n else f"a seeded subsample of {m:,} of {n:,} rows"
        t["note"] = [f"{how}; {note}" if isinstance(note, str) and note else how for note in t["note"]]
        tables.append(t)
    skipped = [e for e, m in plan.items() if not m]
    if skipped:
        tables.append(pd.DataFrame({
            "estimator": skipped, "dimension": np.nan, "seconds": 0.0, "n_used": 0, "n_sample": 0,
            "status": [f"skipped: over budget ({budget_s:g} s) even on {min(ladder):,} rows" for _ in skipped],
            "note": ""}))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if len(table):
        table = table.set_index("estimator").loc[list(plan)].reset_index()
    table.attrs.update(n=n, d=d, budget_s=budget_s, plan=dict(plan))
    return table
