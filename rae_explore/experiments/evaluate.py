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
``top_k@{k}``               top-k accuracy (RAE paper, Eq. 4) for each k in ``ks``, tie-aware
                            (a neighbour at the distance of the k-th counts: exact duplicates
                            in the base are not misses; the ground truth has ``2 kmax`` columns)
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
from .distributed import file_rows
from .tasks import params_json

logger = logging.getLogger(__name__)

DEFAULT_KS = (1, 5, 10, 20, 50)
DEFAULT_RECALLS = ((1, 1), (1, 10), (1, 100))


def gt_columns(kmax, nb):
    """Columns of ground truth :func:`evaluate` searches for ``kmax``: ``2 kmax`` (at most ``nb``), so
    that neighbours tied with the k-th fit (see :func:`~rae_explore.neighbors.metrics.top_k_accuracy`)."""
    return min(int(nb), 2 * int(kmax))


def _ground_truth(ds, kmax, client=None, ties=True):
    """``(D, I)`` of the exact neighbours with :func:`gt_columns` columns (``kmax`` without ``ties``):
    ``ds.gt`` (distances recomputed) if it has that many, else the cached exact search (over the
    client's workers when the base is a file). The width never depends on what an earlier call
    left in ``ds.gt``, so the same configuration scores the same in every process."""
    from ..neighbors.gt_cache import cached_ground_truth
    from ..neighbors.knn import pair_distances

    width = gt_columns(kmax, ds.nb) if ties else int(kmax)
    if ds.gt is not None and ds.gt.shape[1] >= width:
        I = np.ascontiguousarray(ds.gt[:, :width], dtype=np.int64)
        return pair_distances(ds.xq, ds.xb, I, ds.metric), I
    search = None
    src = file_rows(ds.xb) if client is not None else None
    if src is not None:
        from .distributed import distributed_ground_truth

        def search(k):
            return distributed_ground_truth(ds.xq, src[0], k, ds.metric, client=client, rows=src[1:])

    return cached_ground_truth(ds.xq, ds.xb, width, ds.metric, return_distances=True, search=search)


def _fit(reducer, X, block_rows, client):
    """Fit ``reducer`` on ``X``: from one blocked pass of moments when ``X`` is a memory map and the
    reducer needs only moments (PCA, closed-form RAE), over the client's workers when ``X`` is
    rows of a file; else ``reducer.fit(X)``."""
    from ..reducers.moments import moments

    if not (isinstance(X, np.memmap) and hasattr(reducer, "fit_from_moments")):
        return reducer.fit(X)
    preprocess = reducer.preprocess if getattr(reducer, "normalize", False) else None
    src = file_rows(X) if client is not None else None
    if src is not None:
        from .distributed import distributed_moments

        mom = distributed_moments(src[0], client=client, rows=src[1:], preprocess=preprocess)
    else:
        mom = moments(X, min(int(block_rows), 65536), preprocess=preprocess)
    return reducer.fit_from_moments(mom)


def _reconstruction_mse_blocked(reducer, xb, Zb, block_rows):
    """``mean((x - decode(z))^2)`` over the base, a block of rows at a time (bounded memory)."""
    from ..neighbors.knn import release_pages

    total, count = 0.0, 0
    block_rows = min(block_rows, 65536)  # four float64 temporaries of block_rows x d
    for a in range(0, xb.shape[0], block_rows):
        X = np.asarray(xb[a:a + block_rows], dtype=np.float32)
        X = reducer.preprocess(X) if hasattr(reducer, "preprocess") else X
        diff = X.astype(np.float64) - (Zb[a:a + block_rows] @ reducer.decoder_.T + reducer.decoder_intercept_)
        total += float(np.einsum("ij,ij->", diff, diff))
        count += diff.size
        release_pages(xb)
    return total / count


def evaluate(reducer, dataset, ks=DEFAULT_KS, *, recalls=DEFAULT_RECALLS, metric=None, self_eval=False,
             params=None, dataset_kwargs=None, block_rows=262144, client=None, ties=True):
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
        ``metric="cosine"`` the dataset is normalised in memory first. A memory-mapped training
        set is never copied whole either: reducers whose fit needs only the mean and scatter
        (PCA, ``RAE(solver="closed_form")``: those with ``fit_from_moments``) are fitted from one
        pass of moments, checked for NaN/inf block by block.
    client : dask.distributed.Client, optional
        When the training set / base are rows of a vector file (memory-mapped), the moments
        (:func:`~rae_explore.experiments.distributed.distributed_moments`) and a missing exact
        ground truth (:func:`~rae_explore.experiments.distributed.distributed_ground_truth`) are
        computed on the cluster, the workers reading their own row ranges. Otherwise ignored.
    ties : bool
        Count a neighbour at the same distance as the true k-th as a hit (default: exact
        duplicates in the base are not misses). ``False`` scores by ids only, as the RAE paper and
        its reference code do (the ``train`` / ``baseline`` commands, which reproduce it).

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
    _fit(reducer, ds.train, int(block_rows), client)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Zb = transform_blocks(reducer, ds.xb, int(block_rows))
    Zq = reducer.transform(ds.xq)
    transform_s = time.perf_counter() - t0

    D_true, gt = _ground_truth(ds, kmax, client, ties)
    D_true = D_true if ties else None
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
        row[f"top_k@{k}"] = top_k_accuracy(gt, I, k, D_true=D_true)
    for n, m in kept:
        row[f"{n}-R@{m}"] = recall_n_at_m(gt, I, n, m)
    if self_eval:
        ke = max(ks)
        check_k(ke, ds.nb - 1, "k", "other base vectors (self excluded)")
        Dgs, gts = knn_search(ds.xb, ds.xb, ke, ds.metric, exclude_self=True)
        Is = knn_search(Zb, Zb, ke, ds.metric, exclude_self=True)[1]
        for k in ks:
            row[f"train_top_k@{k}"] = top_k_accuracy(gts, Is, k, D_true=Dgs if ties else None)
    row["fit_s"] = fit_s
    row["transform_s"] = transform_s
    row["condition_number"] = float(getattr(reducer, "condition_number_", math.nan))
    if hasattr(reducer, "decoder_"):
        row["reconstruction_mse"] = _reconstruction_mse_blocked(reducer, ds.xb, Zb, int(block_rows))
    else:
        row["reconstruction_mse"] = math.nan
    return row
