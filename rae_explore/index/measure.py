"""Measure index pipelines: one row of the autoencoder paper's table, or one row per search setting.

:func:`evaluate_pipeline` returns one tidy row with the columns of the autoencoder paper
("Using Autoencoders to improve Nearest Neighbor Search on large Datasets", Table 3):
1-R@100, 1-R@10, 1-R@1, 10-R@100, 10-R@10, 100-R@100 (:func:`rae_explore.neighbors.metrics.recall_n_at_m`),
the on-disk index size (``len(faiss.serialize_index(index))``), the compression ratio
``cr = nb * d * 4 / index_bytes`` against the float32 original vectors, the space saving
``ss = 1 - 1/cr``, the one-vector search time, the overall search time, the train+index time,
and separately the reducer's fit time. Times are measured with a fixed faiss thread count,
recorded in the row (``n_threads``). The effective search parameters are read back from the
index and written to the row, so faiss's defaults (IVF ``nprobe=1``, HNSW ``efSearch=16``) are
always visible.

:func:`sweep_pipeline` builds once and searches over a grid of search parameters, one row per
setting (recall-vs-QPS curves). With ``rerank_k``, the reduced index returns a shortlist of
``rerank_k`` candidates that is re-ranked with the original vectors (the production pattern);
the row then carries the recall both ways (``1-R@1`` and ``rerank_1-R@1``, ...).
"""

import time

import faiss
import numpy as np

from ..neighbors.metrics import recall_n_at_m
from ..progress import progress_bar
from ..validation import as_float32, check_k
from .factory import MIN_POINTS_PER_CENTROID, default_sweep, search_settings
from .pipeline import build_pipeline, reducer_name, reducer_params_json
from .validate import check_search_params

#: The (n, m) pairs of the autoencoder paper's table, in its column order.
PAPER_RECALLS = ((1, 100), (1, 10), (1, 1), (10, 100), (10, 10), (100, 100))


def recall_column(n, m):
    """Column name of n-R@m in rows, e.g. ``"10-R@100"``."""
    return f"{n}-R@{m}"


# --------------------------------------------------------------------------- evaluation
def needed_k(recalls):
    recalls = tuple((int(n), int(m)) for n, m in recalls)
    if not recalls:
        raise ValueError("recalls is empty; give (n, m) pairs such as PAPER_RECALLS")
    return recalls, max(m for _, m in recalls), max(n for n, _ in recalls)


def _with_ground_truth(dataset, k_gt):
    """``dataset`` with exact ground truth of at least ``k_gt`` columns (computed once, original space)."""
    if dataset.gt is not None and dataset.gt.shape[1] >= k_gt:
        return dataset
    return dataset.with_ground_truth(k_gt)


def _time_search(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def measure_search(pipeline, dataset, *, recalls=PAPER_RECALLS, rerank_k=None, n_single=100, repeats=1):
    """Search columns of a row for the pipeline's current search parameters.

    Returns a dict with the recall columns, ``search_time_s`` (all queries in one call, reducing
    them included), ``qps``, ``query_reduce_time_s``, ``one_query_ms`` (median over the first
    ``n_single`` queries searched one at a time, reduction included), the effective search
    parameters, and with ``rerank_k`` the ``rerank_*`` recall and time columns.
    """
    recalls, k, n_gt = needed_k(recalls)
    gt = _with_ground_truth(dataset, n_gt).gt
    xq = as_float32(dataset.xq, "xq")
    row = {}
    (_, I), t_all = _time_search(lambda: pipeline.search(xq, k), repeats)
    t0 = time.perf_counter()
    pipeline.reduce(xq)
    row["query_reduce_time_s"] = time.perf_counter() - t0
    for n, m in recalls:
        row[recall_column(n, m)] = recall_n_at_m(gt, I, n, m)
    row["search_time_s"] = t_all
    row["qps"] = xq.shape[0] / t_all if t_all > 0 else float("inf")
    singles = []
    for i in range(min(int(n_single), xq.shape[0])):
        t0 = time.perf_counter()
        pipeline.search(xq[i:i + 1], k)
        singles.append(time.perf_counter() - t0)
    row["one_query_ms"] = 1e3 * float(np.median(singles)) if singles else float("nan")
    if rerank_k is not None:
        (_, Ir), t_rr = _time_search(lambda: pipeline.search(xq, k, rerank_k=rerank_k), repeats)
        for n, m in recalls:
            row["rerank_" + recall_column(n, m)] = recall_n_at_m(gt, Ir, n, m)
        row["rerank_search_time_s"] = t_rr
        row["rerank_qps"] = xq.shape[0] / t_rr if t_rr > 0 else float("inf")
    return row


def _build_columns(pipeline, dataset, reducer, reducer_params, k):
    d, nb = pipeline.d_in_, dataset.nb
    original_bytes = nb * d * 4
    cr = original_bytes / pipeline.index_bytes_
    t = pipeline.timings_
    name = reducer_name(reducer)
    return {
        "dataset": dataset.name, "metric": dataset.metric, "nb": nb, "nq": dataset.nq, "n_train": pipeline.n_train_,
        "d": d, "reducer": name, "reducer_params": reducer_params_json(reducer, reducer_params),
        # how queries are embedded: "exact" map, the method's "native" extension, or a fitted "ridge"
        "reducer_out_of_sample": getattr(pipeline.reducer_, "out_of_sample", "exact"),
        "n_components": pipeline.d_out_, "index": pipeline.index_factory,
        "pipeline": f"{name}-{pipeline.d_out_} {pipeline.index_factory}", "k": k,
        "index_bytes": pipeline.index_bytes_, "original_bytes": original_bytes, "cr": cr, "ss": 1 - 1 / cr,
        "reducer_fit_time_s": t["reducer_fit_time_s"], "base_reduce_time_s": t["base_reduce_time_s"],
        "train_time_s": t["train_time_s"], "add_time_s": t["add_time_s"],
        "build_time_s": t["train_time_s"] + t["add_time_s"],
        "n_threads": int(pipeline.n_threads), "random_state": pipeline.random_state, "faiss_version": faiss.__version__,
    }


def _search_param_columns(pipeline, source):
    eff = pipeline.search_params_
    cols = {"search_params": ",".join(f"{k}={v}" for k, v in eff.items()) or "none", "search_params_source": source}
    cols.update(eff)
    return cols


def _finish(row):
    """Plain Python scalars only (JSON, pickle and DataFrame friendly)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}


def evaluate_pipeline(dataset, index_factory, reducer=None, *, n_components=None, reducer_params=None,
                      search_params=None, rerank_k=None, recalls=PAPER_RECALLS, n_threads=1, random_state=0,
                      n_single=100, repeats=1, min_points_per_centroid=MIN_POINTS_PER_CENTROID):
    """Build one pipeline on ``dataset`` and measure it: one row of the autoencoder paper's table.

    Parameters
    ----------
    dataset : rae_explore.data.datasets.Dataset
        Its ``metric`` decides the index metric; missing ground truth is computed exactly in the
        original space.
    index_factory : str
        faiss ``index_factory`` string.
    reducer : None, str or estimator
        See :class:`IndexPipeline`.
    n_components : int, optional
    reducer_params : dict, optional
    search_params : dict, optional
        e.g. ``{"nprobe": 16}``; unset parameters keep faiss's defaults, which the row shows.
    rerank_k : int, optional
        Also measure re-ranking a shortlist of ``rerank_k`` with the original vectors.
    recalls : sequence of (n, m)
        n-R@m columns; the search uses ``k = max(m)``.
    n_threads : int
        faiss threads for building and searching; recorded in the row.
    random_state : int
    n_single : int
        Queries timed one at a time for ``one_query_ms``.
    repeats : int
        Batch searches are timed ``repeats`` times; the median is reported.

    Returns
    -------
    dict
        dataset, metric, nb, nq, n_train, d, reducer, reducer_params (JSON), n_components, index,
        pipeline, k, the recall columns (``"1-R@100"``, ...), index_bytes, original_bytes, cr, ss,
        one_query_ms, search_time_s, qps, query_reduce_time_s, train_time_s, add_time_s,
        build_time_s (train + add: the paper's train+index time), base_reduce_time_s,
        reducer_fit_time_s, n_threads, search_params (e.g. ``"nprobe=1"``), search_params_source
        ("default"/"given"), one column per effective search parameter, and the ``rerank_*``
        columns when ``rerank_k`` is given.

    Raises
    ------
    ValueError
        Bad factory string, PQ ``M`` not dividing the dimension, too small a training set,
        unknown search parameter, ``k`` larger than the base.

    Examples
    --------
    >>> row = evaluate_pipeline(load_dataset("sift5k"), "HNSW32", "pca", n_components=64)  # doctest: +SKIP
    """
    recalls, k, n_gt = needed_k(recalls)
    check_k(k, dataset.nb, name="k (largest m in recalls)")
    dataset = _with_ground_truth(dataset, n_gt)
    pipe = build_pipeline(dataset, index_factory, reducer, n_components=n_components, reducer_params=reducer_params,
                          search_params=search_params, n_threads=n_threads, random_state=random_state,
                          min_points_per_centroid=min_points_per_centroid)
    row = _build_columns(pipe, dataset, reducer, reducer_params, k)
    row.update(_search_param_columns(pipe, "given" if search_params else "default"))
    row["rerank_k"] = rerank_k
    row.update(measure_search(pipe, dataset, recalls=recalls, rerank_k=rerank_k, n_single=n_single, repeats=repeats))
    return _finish(row)


def sweep_pipeline(dataset, index_factory, reducer=None, *, sweep="auto", n_components=None, reducer_params=None,
                   rerank_k=None, recalls=PAPER_RECALLS, n_threads=1, random_state=0, n_single=100, repeats=1,
                   min_points_per_centroid=MIN_POINTS_PER_CENTROID, verbose=False):
    """Build one pipeline, then search it over a grid of search parameters: one row per setting.

    Parameters
    ----------
    sweep : "auto", dict or None
        ``{"nprobe": [1, 4, 16]}`` (several keys: their Cartesian product); ``"auto"`` uses
        :func:`default_sweep` for the index type; None or ``{}`` one row with faiss's defaults.
    verbose : bool
        tqdm progress over the settings.
    Other parameters as :func:`evaluate_pipeline`.

    Returns
    -------
    list of dict
        Rows as :func:`evaluate_pipeline` (build columns repeated), ``search_params_source``
        "sweep"; feed them to :func:`pareto_frontier`.
    """
    recalls, k, n_gt = needed_k(recalls)
    check_k(k, dataset.nb, name="k (largest m in recalls)")
    if isinstance(sweep, dict):  # ranges before the build (nprobe <= nlist: when set)
        for setting in search_settings(sweep):
            check_search_params(setting, where="sweep")
    dataset = _with_ground_truth(dataset, n_gt)  # once, not per setting
    pipe = build_pipeline(dataset, index_factory, reducer, n_components=n_components, reducer_params=reducer_params,
                          n_threads=n_threads, random_state=random_state,
                          min_points_per_centroid=min_points_per_centroid)
    if isinstance(sweep, str):
        if sweep != "auto":
            raise ValueError(f"sweep must be 'auto', a dict {{param: [values]}} or None, got {sweep!r}")
        sweep = default_sweep(pipe.index_, k)
    settings = search_settings(sweep or {})
    base = _build_columns(pipe, dataset, reducer, reducer_params, k)
    if verbose:
        settings = progress_bar(settings, desc=base["pipeline"], unit="setting")
    rows = []
    for s in settings:
        pipe.set_search_params(**s)
        row = dict(base, **_search_param_columns(pipe, "sweep" if s else "default"), rerank_k=rerank_k)
        row.update(measure_search(pipe, dataset, recalls=recalls, rerank_k=rerank_k, n_single=n_single,
                                  repeats=repeats))
        rows.append(_finish(row))
    return rows
