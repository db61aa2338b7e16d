"""Evaluate a reducer the way the papers do: exact k-NN before and after, one tidy row per run.

:func:`evaluate` fits a reducer on a dataset's training vectors (``xt``, else the base),
transforms base and queries, finds the exact k nearest base vectors of every query before and
after reduction (faiss, :func:`rae_explore.neighbors.knn.knn_search`) and returns one flat dict:

==========================  ===============================================================
``method``                  registry name (``"rae"``, ``"pca"``, ...)
``params``                  JSON string of the reducer's ``get_params()`` (sorted keys)
``n_components``            reduced dimension
``metric``                  ``"l2"``, ``"ip"`` or ``"cosine"``
``dataset``, ``nb``, ``nq``, ``d``  what it ran on
``top_k@{k}``               top-k accuracy (RAE paper, Eq. 4) for each k in ``ks``
``{n}-R@{m}``               n-R@m recall for each (n, m) in ``recalls``
``train_top_k@{k}``         with ``self_eval=True``: the reference's "train" accuracy (each
                            base vector queried against the base, itself excluded)
``fit_s``, ``transform_s``  wall-clock seconds (transform of base + queries)
``condition_number``        of the encoder for linear reducers, else NaN
``reconstruction_mse``      RAE only (mean over elements of the base), else NaN
==========================  ===============================================================

Under ``metric="cosine"`` every reducer is fitted and applied on L2-normalised vectors and the
reduced vectors are compared by cosine similarity (the reference's protocol for its
baselines; for RAE the reference trains on raw vectors unless ``--if_normalize`` is set — we
always normalise).

:func:`sweep` runs a grid of configurations. Each configuration is a small picklable dict and
:func:`run_config` turns one into one row, so the grid can be mapped over any executor
(``concurrent.futures``, a Dask client's ``map``...). Results are written atomically after
each row and a rerun skips the configurations already in the file (:mod:`rae_explore.experiments.tasks`).
"""

import logging
import math
import time

import numpy as np

from ..neighbors.metrics import recall_n_at_m, top_k_accuracy
from ..data.datasets import as_dataset
from ..reducers.blocks import transform_blocks
from .tasks import params_json

logger = logging.getLogger(__name__)

DEFAULT_KS = (1, 5, 10, 20, 50)
DEFAULT_RECALLS = ((1, 1), (1, 10), (1, 100))


def _ground_truth(ds, kmax):
    """``ds.gt`` if it has ``kmax`` columns (under the dataset's metric), else the cached exact search."""
    from ..neighbors.gt_cache import cached_ground_truth

    if ds.gt is not None and ds.gt.shape[1] >= kmax:
        return np.asarray(ds.gt[:, :kmax])
    return cached_ground_truth(ds.xq, ds.xb, kmax, ds.metric)


def _reconstruction_mse_blocked(reducer, xb, Zb, block_rows):
    """``mean((x - decode(z))^2)`` over the base, a block of rows at a time (bounded memory)."""
    total, count = 0.0, 0
    for a in range(0, xb.shape[0], block_rows):
        X = np.asarray(xb[a:a + block_rows], dtype=np.float32)
        X = reducer.preprocess(X) if hasattr(reducer, "preprocess") else X
        diff = X.astype(np.float64) - (Zb[a:a + block_rows] @ reducer.decoder_.T + reducer.decoder_intercept_)
        total += float(np.einsum("ij,ij->", diff, diff))
        count += diff.size
    return total / count


def evaluate(reducer, dataset, ks=DEFAULT_KS, *, recalls=DEFAULT_RECALLS, metric=None, self_eval=False,
             params=None, dataset_kwargs=None, block_rows=262144):
    """Fit, transform, and measure how many nearest neighbours survive the reduction.

    Parameters
    ----------
    reducer : estimator or str
        A reducer (fitted or not: it is (re)fitted), or a registered name built with ``params``.
    dataset : Dataset or str
        A :class:`~rae_explore.data.datasets.Dataset`, or a name for
        :func:`~rae_explore.data.datasets.load_dataset` (with ``dataset_kwargs``).
    ks : sequence of int
        The k of the top-k accuracies (default 1, 5, 10, 20, 50: the RAE paper's).
    recalls : sequence of (n, m)
        The n-R@m recalls (default 1-R@1, 1-R@10, 1-R@100). Pairs whose ``m`` exceeds the base
        size are dropped with a log message, so small sets still evaluate.
    metric : {"l2", "ip", "cosine"}, optional
        Overrides the dataset's metric.
    self_eval : bool
        Also compute ``train_top_k@k`` (each base vector against the base, itself excluded; the
        reference's "train" accuracy).
    params : dict, optional
        Hyperparameters when ``reducer`` is a name.
    dataset_kwargs : dict, optional
        Passed to ``load_dataset`` when ``dataset`` is a name (``seed``, ``n_samples``, ...).
    block_rows : int
        The base is transformed in blocks of this many rows (a memory-mapped base is read block
        by block; the reduced base, ``nb x n_components`` float32, is held in memory). Under
        ``metric="cosine"`` the dataset is normalised in memory first.

    Returns
    -------
    dict
        One flat row (see the module docstring for the columns).

    Raises
    ------
    ValueError
        A k larger than the base, an unknown reducer / metric, ...

    Examples
    --------
    >>> row = evaluate(make_reducer("pca", n_components=32), "sift5k")  # doctest: +SKIP
    >>> row["top_k@10"]                                                 # doctest: +SKIP
    """
    from ..neighbors.knn import knn_search
    from ..reducers import make_reducer
    from ..validation import check_k

    if isinstance(reducer, str):
        reducer = make_reducer(reducer, **(params or {}))
    elif params:
        reducer = reducer.set_params(**params)
    ds = as_dataset(dataset, metric, **(dataset_kwargs or {}))
    ks = sorted({int(k) for k in ks})
    if not ks:
        raise ValueError("ks is empty; give at least one k, e.g. ks=(1, 10)")
    for k in ks:
        check_k(k, ds.nb, "k")
    recalls = [(int(n), int(m)) for n, m in recalls]
    kept = [(n, m) for n, m in recalls if m <= ds.nb]
    if len(kept) < len(recalls):
        logger.info("dropping recalls %s: the base has only %d vectors", sorted(set(recalls) - set(kept)), ds.nb)
    kmax = max(ks + [max(n, m) for n, m in kept])

    t0 = time.perf_counter()
    reducer.fit(ds.train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Zb = transform_blocks(reducer, ds.xb, int(block_rows))
    Zq = reducer.transform(ds.xq)
    transform_s = time.perf_counter() - t0

    gt = _ground_truth(ds, kmax)
    I = knn_search(Zq, Zb, kmax, ds.metric)[1]
    name = getattr(reducer, "registry_name", None) or type(reducer).__name__.lower()
    row = {
        "method": name,
        "params": params_json(reducer.get_params()),
        "n_components": int(getattr(reducer, "n_components", Zb.shape[1])),
        "metric": ds.metric,
        "dataset": ds.name,
        "nb": ds.nb,
        "nq": ds.nq,
        "d": ds.d,
    }
    for k in ks:
        row[f"top_k@{k}"] = top_k_accuracy(gt, I, k)
    for n, m in kept:
        row[f"{n}-R@{m}"] = recall_n_at_m(gt, I, n, m)
    if self_eval:
        ke = max(ks)
        check_k(ke, ds.nb - 1, "k", "other base vectors (self excluded)")
        gts = knn_search(ds.xb, ds.xb, ke, ds.metric, exclude_self=True)[1]
        Is = knn_search(Zb, Zb, ke, ds.metric, exclude_self=True)[1]
        for k in ks:
            row[f"train_top_k@{k}"] = top_k_accuracy(gts, Is, k)
    row["fit_s"] = fit_s
    row["transform_s"] = transform_s
    row["condition_number"] = float(getattr(reducer, "condition_number_", math.nan))
    if hasattr(reducer, "decoder_"):
        row["reconstruction_mse"] = _reconstruction_mse_blocked(reducer, ds.xb, Zb, int(block_rows))
    else:
        row["reconstruction_mse"] = math.nan
    return row
