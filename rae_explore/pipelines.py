"""faiss index pipelines on compressed vectors: the autoencoder paper's table, and recall vs speed.

A *pipeline* is an optional reducer (a registered name + params, or any sklearn-style estimator)
followed by a faiss ``index_factory`` string ("Flat", "HNSW32", "NSG32", "IVF256,PQ16",
"OPQ16_64,IVF256,PQ16", "IVF1024,SQ8", ...) and search parameters (``nprobe``, ``efSearch``,
``search_L``, ...). The reducer is fitted on the training vectors (``Dataset.train``), the index
is trained on the reduced training vectors and filled with the reduced base; queries are reduced
with the same fitted reducer. Ground truth is always the exact k-NN in the ORIGINAL space
(:func:`rae_explore.knn.ground_truth`), so every recall measures reducer and index together.

:func:`evaluate_pipeline` returns one tidy row with the columns of the autoencoder paper
("Using Autoencoders to improve Nearest Neighbor Search on large Datasets", Table 3):
1-R@100, 1-R@10, 1-R@1, 10-R@100, 10-R@10, 100-R@100 (:func:`rae_explore.metrics.recall_n_at_m`),
the on-disk index size (``len(faiss.serialize_index(index))``), the compression ratio
``cr = nb * d * 4 / index_bytes`` against the float32 original vectors, the space saving
``ss = 1 - 1/cr``, the one-vector search time, the overall search time, the train+index time,
and separately the reducer's fit time. Times are measured with a fixed faiss thread count,
recorded in the row (``n_threads``). The effective search parameters are read back from the
index and written to the row, so faiss's defaults (IVF ``nprobe=1``, HNSW ``efSearch=16``) are
always visible.

:func:`sweep_pipeline` builds once and searches over a grid of search parameters, one row per
setting (recall-vs-QPS curves); :func:`pareto_frontier` marks the non-dominated settings.
With ``rerank_k``, the reduced index returns a shortlist of ``rerank_k`` candidates that is
re-ranked with the original vectors (the production pattern); the row then carries the recall
both ways (``1-R@1`` and ``rerank_1-R@1``, ...).

Grids: :func:`expand_grid` turns reducers x dims x indexes into plain config dicts;
:func:`run_task` maps one config to its rows (a picklable, independent task that can be mapped
on Dask); :func:`run_grid` runs them, rewrites the results file atomically after each task and
skips configs already finished when resumed.

Training cost: an ``index_factory`` "PQ<M>" (8-bit) also runs faiss's polysemous training, which
only serves Hamming-threshold filtering (search parameter ``ht``) and dominates training time
(IVF64,PQ32 on 9,000 x 384: ~94 s vs ~6 s for "IVF64,PQ32np"); append ``np`` to skip it.

Training-set checks (faiss's k-means wants at least ``39 * k`` points for ``k`` centroids, and
fails below ``k``): fewer than :data:`MIN_POINTS_PER_CENTROID` (10) training points per
centroid of an IVF or PQ stage raises ``ValueError`` naming a size that fits; fewer than
:data:`FAISS_MIN_POINTS_PER_CENTROID` (39) warns with :class:`TrainingSizeWarning`.

Examples
--------
>>> ds = load_dataset("sift5k", seed=0)  # doctest: +SKIP
>>> row = evaluate_pipeline(ds, "IVF64,Flat", "pca", n_components=32, search_params={"nprobe": 8})  # doctest: +SKIP
>>> row["10-R@10"], row["cr"], row["nprobe"]  # doctest: +SKIP
"""

import contextlib
import functools
import json
import logging
import math
import re
import time
import warnings
from pathlib import Path

import faiss
import numpy as np

from .metrics import recall_n_at_m
from .tasks import read_rows, run_tasks, task_id
from .validation import as_float32, check_k, check_metric, check_same_dim

logger = logging.getLogger(__name__)

#: The (n, m) pairs of the autoencoder paper's table, in its column order.
PAPER_RECALLS = ((1, 100), (1, 10), (1, 1), (10, 100), (10, 10), (100, 100))

#: Below this many training points per k-means centroid (IVF lists, PQ codewords) we raise.
MIN_POINTS_PER_CENTROID = 10
#: faiss's own recommendation (``ClusteringParameters.min_points_per_centroid``): below it we warn.
FAISS_MIN_POINTS_PER_CENTROID = 39

#: Default values swept per search parameter (see :func:`default_sweep`).
DEFAULT_SWEEP_VALUES = {
    "nprobe": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    "efSearch": (16, 32, 64, 128, 256, 512),
    "search_L": (16, 32, 64, 128, 256, 512),
}

_EXAMPLES = '"Flat", "HNSW32", "NSG32", "IVF256,Flat", "IVF256,PQ16", "OPQ16_64,IVF256,PQ16", "IVF1024,SQ8", "PQ16"'


class TrainingSizeWarning(UserWarning):
    """The training set is smaller than faiss recommends for the index's k-means stages."""


def recall_column(n, m):
    """Column name of n-R@m in rows, e.g. ``"10-R@100"``."""
    return f"{n}-R@{m}"


# --------------------------------------------------------------------------- faiss helpers
@contextlib.contextmanager
def faiss_threads(n_threads):
    """Run the block with ``faiss.omp_set_num_threads(n_threads)``; restore the previous count."""
    n_threads = _check_threads(n_threads)
    old = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        faiss.omp_set_num_threads(old)


def _check_threads(n_threads):
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer (faiss OpenMP threads), got {n_threads!r}")
    return int(n_threads)


def _faiss_metric(metric):
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def _divisors(d):
    return [m for m in range(1, d + 1) if d % m == 0]


def make_index(d, index_factory, metric="l2"):
    """``faiss.index_factory(d, index_factory, metric)`` with errors that name the fix.

    Parameters
    ----------
    d : int
        Dimension of the vectors the index will hold (after reduction).
    index_factory : str
        Any string faiss's ``index_factory`` accepts.
    metric : {"l2", "ip", "cosine"}
        ``"ip"`` and ``"cosine"`` build a ``METRIC_INNER_PRODUCT`` index (cosine vectors are
        L2-normalised by the pipeline, as :mod:`rae_explore.knn` does).

    Returns
    -------
    faiss.Index (untrained)

    Raises
    ------
    ValueError
        Unparsable string (with examples); a PQ whose ``M`` does not divide the dimension (listing
        the ``M`` that do); a structure faiss rejects for this metric or dimension.
    """
    check_metric(metric)
    if not isinstance(index_factory, str) or not index_factory.strip():
        raise TypeError(f"index_factory must be a non-empty faiss index_factory string such as {_EXAMPLES}; "
                        f"got {index_factory!r}")
    try:
        return faiss.index_factory(int(d), index_factory, _faiss_metric(metric))
    except RuntimeError as e:
        msg = str(e)
        reason = msg.strip().splitlines()[-1]
        if "could not parse" in msg:
            raise ValueError(
                f"faiss cannot parse the index_factory string {index_factory!r}. Examples: {_EXAMPLES}; "
                "see https://github.com/facebookresearch/faiss/wiki/The-index-factory"
            ) from None
        if "multiple of the number of subquantizers" in msg:
            ms = [int(x) for x in re.findall(r"(?<![A-Za-z])PQ(\d+)", index_factory)]
            opq = re.search(r"OPQ(\d+)(?:_(\d+))?", index_factory)
            d_pq = int(opq.group(2)) if opq and opq.group(2) else d
            ms_txt = f"M={ms[0]}" if ms else "its M"
            raise ValueError(
                f"{index_factory!r}: the product quantizer splits the {d_pq}-d vectors into {ms_txt} sub-vectors, "
                f"so {d_pq} must be a multiple of M. Use M in {_divisors(d_pq)}, or choose a dimension "
                f"(n_components) that is a multiple of {ms[0] if ms else 'M'}"
            ) from None
        if "metric == METRIC_L2" in msg:
            raise ValueError(f"{index_factory!r} supports only the l2 metric in faiss, got metric={metric!r}; "
                             "use another index type (Flat, HNSW, IVF*, PQ) for ip/cosine") from None
        raise ValueError(f"faiss rejected index_factory string {index_factory!r} for d={d}, metric={metric!r}: "
                         f"{reason}") from None


def _nested(index):
    """The index and every index it wraps (pre-transform, refine, id map), outermost first.

    Sub-indexes are non-owning views: ``index`` must stay alive while they are used.
    """
    out = [index]
    while True:
        idx = out[-1]
        if isinstance(idx, faiss.IndexPreTransform):
            out.append(faiss.downcast_index(idx.index))
        elif isinstance(idx, faiss.IndexRefine):
            out.append(faiss.downcast_index(idx.base_index))
        elif isinstance(idx, (faiss.IndexIDMap, faiss.IndexIDMap2)):
            out.append(faiss.downcast_index(idx.index))
        else:
            return out


def centroid_requirements(index):
    """The k-means stages of an index: list of ``(stage, n_centroids)``.

    IVF coarse quantizers (``nlist``), product quantizers (``ksub = 2**nbits`` per sub-space,
    also inside OPQ and HNSW/IVF storages). Used to check the training-set size.
    """
    reqs = []
    for idx in _nested(index):
        if isinstance(idx, faiss.IndexPreTransform):
            for i in range(idx.chain.size()):
                vt = faiss.downcast_VectorTransform(idx.chain.at(i))
                if isinstance(vt, faiss.OPQMatrix):
                    reqs.append((f"OPQ{vt.M} rotation (256 codewords per sub-space)", 256))
        if isinstance(idx, faiss.IndexIVF):
            reqs.append((f"IVF{idx.nlist} coarse quantizer ({idx.nlist} lists)", int(idx.nlist)))
        pq = getattr(idx, "pq", None)
        if isinstance(pq, faiss.ProductQuantizer):
            reqs.append((f"PQ{pq.M}x{pq.nbits} ({pq.ksub} codewords per sub-space)", int(pq.ksub)))
        storage = getattr(idx, "storage", None)
        if isinstance(idx, (faiss.IndexHNSW, faiss.IndexNSG)) and storage is not None:
            st = faiss.downcast_index(storage)
            if isinstance(getattr(st, "pq", None), faiss.ProductQuantizer):
                reqs.append((f"PQ{st.pq.M}x{st.pq.nbits} storage ({st.pq.ksub} codewords)", int(st.pq.ksub)))
    return reqs


def check_training_size(index, n_train, index_factory="", min_points_per_centroid=MIN_POINTS_PER_CENTROID):
    """Raise or warn if ``n_train`` vectors are too few for the index's k-means stages.

    Raises ``ValueError`` below ``min_points_per_centroid`` points per centroid (faiss itself
    fails below 1, and its k-means leaves most centroids degenerate below ~10); warns with
    :class:`TrainingSizeWarning` below faiss's recommended 39. Both messages name the largest
    number of centroids that fits, and the training size the requested one needs.
    """
    for stage, k in centroid_requirements(index):
        if n_train >= FAISS_MIN_POINTS_PER_CENTROID * k:
            continue
        fits = max(1, n_train // FAISS_MIN_POINTS_PER_CENTROID)
        fix = (f"use at most {fits} lists (e.g. IVF{2 ** int(math.log2(fits))})" if stage.startswith("IVF")
               else "use fewer bits per code (e.g. PQ<M>x4 has 16 codewords) or SQ8")
        detail = (f"{index_factory!r}: the {stage} is trained with k-means on {n_train:,} vectors, "
                  f"{n_train / k:.1f} per centroid; faiss recommends >= {FAISS_MIN_POINTS_PER_CENTROID} "
                  f"(>= {FAISS_MIN_POINTS_PER_CENTROID * k:,} training vectors). Fix: {fix}, or train on more "
                  "vectors (a dataset with a separate training set xt, or a larger n_samples)")
        if n_train < min_points_per_centroid * k:
            raise ValueError(f"training set too small: {detail}")
        warnings.warn(detail, TrainingSizeWarning, stacklevel=3)


def _quiet_faiss_clustering(index):
    """Stop faiss's k-means printing "WARNING clustering ..." lines straight to the C stderr.

    ``min_points_per_centroid`` only gates that message in faiss's ``Clustering::train``; the
    condition is already reported once, as a Python :class:`TrainingSizeWarning`, by
    :func:`check_training_size`. Without this, a notebook output fills with one line per PQ
    sub-quantizer.
    """
    for idx in _nested(index):
        if isinstance(idx, faiss.IndexIVF):
            idx.cp.min_points_per_centroid = 1
        for holder in (idx, faiss.downcast_index(idx.storage) if isinstance(idx, (faiss.IndexHNSW, faiss.IndexNSG))
                       and idx.storage is not None else None):
            pq = getattr(holder, "pq", None)
            if isinstance(pq, faiss.ProductQuantizer):
                pq.cp.min_points_per_centroid = 1


def search_params_of(index):
    """The search parameters in effect on ``index`` (read back from faiss), as a dict.

    Keys present only where they apply: ``nprobe`` (IVF), ``quantizer_efSearch`` (IVF with an
    HNSW coarse quantizer), ``efSearch`` (HNSW), ``search_L`` (NSG), ``k_factor_rf`` (refine).
    """
    out = {}
    for idx in _nested(index):
        if isinstance(idx, faiss.IndexRefine):
            out["k_factor_rf"] = float(idx.k_factor)
        if isinstance(idx, faiss.IndexIVF):
            out["nprobe"] = int(idx.nprobe)
            q = faiss.downcast_index(idx.quantizer)
            if isinstance(q, faiss.IndexHNSW):
                out["quantizer_efSearch"] = int(q.hnsw.efSearch)
        if isinstance(idx, faiss.IndexHNSW):
            out["efSearch"] = int(idx.hnsw.efSearch)
        if isinstance(idx, faiss.IndexNSG):
            out["search_L"] = int(idx.nsg.search_L)
    return out


def set_search_params(index, params):
    """Set search parameters on ``index`` (through faiss's ``ParameterSpace``; ``search_L`` for NSG).

    Raises
    ------
    ValueError
        A parameter the index does not have, naming those it does.
    """
    for name, value in (params or {}).items():
        if name == "search_L":
            nsg = [i for i in _nested(index) if isinstance(i, faiss.IndexNSG)]
            if nsg:
                nsg[0].nsg.search_L = int(value)
                continue
        else:
            try:
                faiss.ParameterSpace().set_index_parameter(index, name, value)
                continue
            except RuntimeError:
                pass
        raise ValueError(f"search parameter {name!r} does not apply to this index; it has "
                         f"{sorted(search_params_of(index)) or 'no search parameters'}")


def default_sweep(index, k=1):
    """Default search-parameter sweep for ``index``: a dict ``{name: [values]}`` (empty for Flat, PQ).

    IVF: ``nprobe`` in powers of two up to ``nlist``. HNSW: ``efSearch`` 16..512. NSG:
    ``search_L`` 16..512, lifted to at least ``k`` (faiss's NSG searches with ``max(search_L, k)``,
    so smaller values repeat the same point).
    """
    have = search_params_of(index)
    if "nprobe" in have:
        nlist = next(int(i.nlist) for i in _nested(index) if isinstance(i, faiss.IndexIVF))
        return {"nprobe": sorted({v for v in DEFAULT_SWEEP_VALUES["nprobe"] if v <= nlist} | {nlist})}
    if "efSearch" in have:
        return {"efSearch": list(DEFAULT_SWEEP_VALUES["efSearch"])}
    if "search_L" in have:
        return {"search_L": sorted({max(v, k) for v in DEFAULT_SWEEP_VALUES["search_L"]})}
    return {}


def _sweep_settings(sweep):
    """Cartesian product of ``{name: [values]}`` as a list of dicts (``[{}]`` for an empty sweep)."""
    settings = [{}]
    for name, values in sweep.items():
        values = [values] if np.isscalar(values) else list(values)
        if not values:
            raise ValueError(f"sweep[{name!r}] is empty; give at least one value")
        settings = [dict(s, **{name: v}) for s in settings for v in values]
    return settings


def index_bytes(index):
    """Size of the index as written to disk: ``len(faiss.serialize_index(index))``."""
    return int(faiss.serialize_index(index).size)


# --------------------------------------------------------------------------- reducers
def _resolve_reducer(reducer, n_components, reducer_params, random_state):
    """A fresh (unfitted) estimator, or None for no reduction."""
    params = dict(reducer_params or {})
    if reducer is None or (isinstance(reducer, str) and reducer.lower() == "none"):
        if n_components is not None or params:
            raise ValueError(f"reducer=None builds the index on the original vectors; it takes no n_components "
                             f"or reducer_params (got n_components={n_components!r}, reducer_params={params})")
        return None
    if isinstance(reducer, str):
        try:
            from .reducers import make_reducer
        except ImportError as e:  # pragma: no cover - reducers ships with the package
            raise ImportError(f"reducer names need rae_explore.reducers ({e}); pass an estimator object instead") from e
        return make_reducer(reducer, n_components=n_components, random_state=random_state, **params)
    if not (hasattr(reducer, "fit") and hasattr(reducer, "transform")):
        raise TypeError(f"reducer must be None, a registered name or an estimator with fit/transform, "
                        f"got {type(reducer).__name__}")
    from sklearn.base import clone

    est = clone(reducer)  # never mutate the caller's estimator: tasks stay independent
    est_params = est.get_params(deep=False)
    if n_components is not None:
        if "n_components" not in est_params:
            raise ValueError(f"{type(est).__name__} has no n_components parameter; pass n_components=None")
        params["n_components"] = n_components
    if "random_state" in est_params and est_params["random_state"] is None:
        params["random_state"] = random_state
    return est.set_params(**params) if params else est


def _reducer_name(reducer):
    if reducer is None:
        return "none"
    return reducer.lower() if isinstance(reducer, str) else type(reducer).__name__.lower()


def _reducer_params_json(reducer, reducer_params):
    if isinstance(reducer, str) or reducer is None:
        return json.dumps(reducer_params or {}, sort_keys=True, default=str)
    p = {k: v for k, v in reducer.get_params(deep=False).items() if k not in ("n_components", "random_state")}
    return json.dumps(dict(p, **(reducer_params or {})), sort_keys=True, default=str)


def _normalized(x):
    x = np.array(x, dtype=np.float32, order="C", copy=True)
    faiss.normalize_L2(x)
    return x


# --------------------------------------------------------------------------- the pipeline
class IndexPipeline:
    """Reducer (optional) + faiss index, fitted on a base; search with the same reduction.

    Parameters
    ----------
    index_factory : str
        faiss ``index_factory`` string, built on the reduced dimension.
    reducer : None, str or estimator
        None: index the original vectors. A name: :func:`rae_explore.reducers.make_reducer`
        with ``n_components``, ``random_state`` and ``reducer_params``. An estimator with
        ``fit``/``transform``: cloned, then ``n_components`` (and ``random_state`` if unset) applied.
    n_components : int, optional
        Reduced dimension.
    reducer_params : dict, optional
    metric : {"l2", "ip", "cosine"}
        Cosine: original vectors are L2-normalised before the reducer, the reduced vectors again
        after it, and an inner-product index is used (as :mod:`rae_explore.knn` does).
    search_params : dict, optional
        Applied after building (``{"nprobe": 16}``); faiss's defaults otherwise.
    n_threads : int
        faiss OpenMP threads while building and searching (restored afterwards).
    random_state : int
        Seeds the reducer and faiss's k-means (``cp.seed`` is faiss's fixed default 1234; the
        reducer is the only seeded stage we control).
    min_points_per_centroid : int
        See :func:`check_training_size`.

    Attributes (after ``fit``)
    --------------------------
    reducer_ : fitted estimator or None
    index_ : faiss.Index
    d_in_, d_out_ : int
    n_train_ : int
    timings_ : dict
        ``reducer_fit_time_s``, ``base_reduce_time_s``, ``train_time_s``, ``add_time_s``.
    index_bytes_ : int
    """

    def __init__(self, index_factory, reducer=None, *, n_components=None, reducer_params=None, metric="l2",
                 search_params=None, n_threads=1, random_state=0, min_points_per_centroid=MIN_POINTS_PER_CENTROID):
        self.index_factory = index_factory
        self.reducer = reducer
        self.n_components = n_components
        self.reducer_params = reducer_params
        self.metric = metric
        self.search_params = search_params
        self.n_threads = n_threads
        self.random_state = random_state
        self.min_points_per_centroid = min_points_per_centroid

    # ---- fitting
    def fit(self, xb, xt=None, *, _reduction=None):
        """Fit the reducer on ``xt`` (or ``xb``), train the index on the reduced training set, add the base.

        Parameters
        ----------
        xb : array-like, shape (nb, d)
        xt : array-like, shape (nt, d), optional
            Training vectors; the base is used when None.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad factory string, PQ ``M`` not dividing the dimension, too small a training set,
            NaN/inf, dimension mismatch.
        """
        check_metric(self.metric)
        n_threads = _check_threads(self.n_threads)
        xb = as_float32(xb, "xb")
        if xt is not None:
            xt = as_float32(xt, "xt")
            check_same_dim(xt, xb, ("xt", "xb"))
        self.d_in_ = xb.shape[1]
        if self.metric == "cosine":
            xb = _normalized(xb)
            xt = None if xt is None else _normalized(xt)
        self._xb = xb  # originals (normalised for cosine), for re-ranking
        self._flat = None
        # fail fast on the factory string before an expensive reducer fit, when the dimension is known
        if self.reducer is None or self.n_components is not None:
            make_index(self.d_in_ if self.reducer is None else self.n_components, self.index_factory, self.metric)

        red = _reduction if _reduction is not None else fit_reduction(
            xb, xt, self.reducer, self.n_components, self.reducer_params, self.random_state, self.metric)
        self.reducer_ = red["reducer"]
        xb_r = red["xb"]
        xt_r = red["xt"] if red["xt"] is not None else xb_r
        self.d_out_ = xb_r.shape[1]
        self.n_train_ = xt_r.shape[0]
        index = make_index(self.d_out_, self.index_factory, self.metric)
        check_training_size(index, self.n_train_, self.index_factory, self.min_points_per_centroid)
        _quiet_faiss_clustering(index)
        with faiss_threads(n_threads):
            t0 = time.perf_counter()
            try:
                index.train(xt_r)
            except RuntimeError as e:
                raise ValueError(f"faiss could not train {self.index_factory!r} on {self.n_train_:,} vectors of "
                                 f"dimension {self.d_out_}: {str(e).strip().splitlines()[-1]}") from None
            t1 = time.perf_counter()
            index.add(xb_r)
            t2 = time.perf_counter()
        self.index_ = index
        if self.search_params:
            set_search_params(index, self.search_params)
        self.timings_ = {"reducer_fit_time_s": red["fit_time_s"], "base_reduce_time_s": red["reduce_time_s"],
                         "train_time_s": t1 - t0, "add_time_s": t2 - t1}
        self.index_bytes_ = index_bytes(index)
        logger.info("built %s on %d x %d (reduced from %d) in %.3f s; search params %s", self.index_factory,
                    xb_r.shape[0], self.d_out_, self.d_in_, t2 - t0, search_params_of(index))
        return self

    def _check_fitted(self):
        if not hasattr(self, "index_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this IndexPipeline is not fitted yet; call fit(xb) first")

    # ---- searching
    def reduce(self, X):
        """Queries as the index sees them: normalised (cosine), reduced, normalised again; float32."""
        self._check_fitted()
        X = as_float32(X, "xq")
        if X.shape[1] != self.d_in_:
            raise ValueError(f"dimension mismatch: the queries have {X.shape[1]} columns but the pipeline was "
                             f"fitted on {self.d_in_}-d vectors; queries must come from the same embedding model")
        if self.metric == "cosine":
            X = _normalized(X)
        return _apply_reducer(self.reducer_, X, self.metric)

    def set_search_params(self, **params):
        """Set search parameters on the fitted index (``nprobe=16``, ``efSearch=128``, ``search_L=64``)."""
        self._check_fitted()
        set_search_params(self.index_, params)
        return self

    @property
    def search_params_(self):
        """Search parameters in effect (read back from faiss)."""
        self._check_fitted()
        return search_params_of(self.index_)

    def search(self, xq, k, *, rerank_k=None):
        """Reduce ``xq`` and search the index; optionally re-rank a shortlist with the originals.

        Parameters
        ----------
        xq : array-like, shape (nq, d_in)
        k : int
        rerank_k : int, optional
            Shortlist size (``>= k``) taken from the reduced index and re-ranked by the exact
            distance to the original vectors.

        Returns
        -------
        D : ndarray, float32, (nq, k)
            Distances of the reduced index (or of the original space after re-ranking): squared
            L2, or inner products / cosine similarities.
        I : ndarray, int64, (nq, k)
            Base ids; -1 where the index returned fewer than k results.
        """
        self._check_fitted()
        k = check_k(k, self.index_.ntotal)
        xq_r = self.reduce(xq)
        if rerank_k is None:
            with faiss_threads(self.n_threads):
                return self.index_.search(xq_r, k)
        rerank_k = check_k(rerank_k, self.index_.ntotal, name="rerank_k")
        if rerank_k < k:
            raise ValueError(f"rerank_k={rerank_k} must be >= k={k}: the shortlist is re-ranked and cut to k")
        xq = as_float32(xq, "xq")
        if self.metric == "cosine":
            xq = _normalized(xq)
        with faiss_threads(self.n_threads):
            _, I = self.index_.search(xq_r, rerank_k)
            return self._rerank(xq, I, k)

    def _rerank(self, xq, I, k):
        """Exact original-space distances for the shortlist ``I`` (faiss ``compute_distance_subset``), best k."""
        if self._flat is None:
            self._flat = faiss.IndexFlat(self.d_in_, _faiss_metric(self.metric))
            self._flat.add(self._xb)
        nq, kk = I.shape
        ids = np.ascontiguousarray(np.where(I < 0, 0, I), dtype=np.int64)
        D = np.empty((nq, kk), dtype=np.float32)
        self._flat.compute_distance_subset(nq, faiss.swig_ptr(xq), kk, faiss.swig_ptr(D), faiss.swig_ptr(ids))
        worst = np.float32(np.inf) if self.metric == "l2" else np.float32(-np.inf)
        D[I < 0] = worst
        order = np.argsort(D if self.metric == "l2" else -D, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(D, order, 1), np.take_along_axis(I, order, 1)


def fit_reduction(xb, xt, reducer, n_components, reducer_params, random_state, metric):
    """Fit the reducer on ``xt`` (or ``xb``) and reduce both; timed. Inputs already normalised for cosine.

    Returns a dict: ``reducer`` (fitted or None), ``xb``, ``xt`` (reduced, or None), ``fit_time_s``,
    ``reduce_time_s`` (reducing the base).
    """
    est = _resolve_reducer(reducer, n_components, reducer_params, random_state)
    if est is None:
        return {"reducer": None, "xb": xb, "xt": xt, "fit_time_s": 0.0, "reduce_time_s": 0.0}
    train = xb if xt is None else xt
    t0 = time.perf_counter()
    est.fit(train)
    fit_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    xb_r = _apply_reducer(est, xb, metric)
    reduce_time = time.perf_counter() - t0
    xt_r = None if xt is None else _apply_reducer(est, xt, metric)
    return {"reducer": est, "xb": xb_r, "xt": xt_r, "fit_time_s": fit_time, "reduce_time_s": reduce_time}


def _apply_reducer(est, X, metric):
    if est is None:
        return X
    try:
        Y = est.transform(X)
    except (AttributeError, NotImplementedError) as e:
        raise ValueError(f"{type(est).__name__} cannot embed new points ({e}); an index pipeline must reduce the "
                         "queries with the fitted reducer, so use a reducer with transform (pca, rp, rae, umap, ...)"
                         ) from None
    Y = as_float32(np.asarray(Y), f"{type(est).__name__}.transform output")
    return _normalized(Y) if metric == "cosine" else Y


# --------------------------------------------------------------------------- evaluation
def _needed_k(recalls):
    recalls = tuple((int(n), int(m)) for n, m in recalls)
    if not recalls:
        raise ValueError("recalls is empty; give (n, m) pairs such as PAPER_RECALLS")
    return recalls, max(m for _, m in recalls), max(n for n, _ in recalls)


def _with_ground_truth(dataset, k_gt):
    """``dataset`` with exact ground truth of at least ``k_gt`` columns (computed once, original space)."""
    if dataset.gt is not None and dataset.gt.shape[1] >= k_gt:
        return dataset
    return dataset.with_ground_truth(k_gt)


def build_pipeline(dataset, index_factory, reducer=None, *, n_components=None, reducer_params=None,
                   search_params=None, n_threads=1, random_state=0, min_points_per_centroid=MIN_POINTS_PER_CENTROID,
                   _reduction=None):
    """Fit an :class:`IndexPipeline` on ``dataset`` (reducer on ``dataset.train``, index on the base)."""
    pipe = IndexPipeline(index_factory, reducer, n_components=n_components, reducer_params=reducer_params,
                         metric=dataset.metric, search_params=search_params, n_threads=n_threads,
                         random_state=random_state, min_points_per_centroid=min_points_per_centroid)
    return pipe.fit(dataset.xb, dataset.xt, _reduction=_reduction)


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
    recalls, k, n_gt = _needed_k(recalls)
    gt = _with_ground_truth(dataset, n_gt).gt
    xq = as_float32(dataset.xq, "xq")
    row = {}
    (_, I), t_all = _time_search(lambda: pipeline.search(xq, k), repeats)
    t0 = time.perf_counter()
    pipeline.reduce(xq)
    row["query_reduce_time_s"] = time.perf_counter() - t0
    for n, m in recalls:
        row[recall_column(n, m)] = recall_n_at_m(I, gt, n, m)
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
            row["rerank_" + recall_column(n, m)] = recall_n_at_m(Ir, gt, n, m)
        row["rerank_search_time_s"] = t_rr
        row["rerank_qps"] = xq.shape[0] / t_rr if t_rr > 0 else float("inf")
    return row


def _build_columns(pipeline, dataset, reducer, reducer_params, k):
    d, nb = pipeline.d_in_, dataset.nb
    original_bytes = nb * d * 4
    cr = original_bytes / pipeline.index_bytes_
    t = pipeline.timings_
    name = _reducer_name(reducer)
    return {
        "dataset": dataset.name, "metric": dataset.metric, "nb": nb, "nq": dataset.nq, "n_train": pipeline.n_train_,
        "d": d, "reducer": name, "reducer_params": _reducer_params_json(reducer, reducer_params),
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
                      n_single=100, repeats=1, min_points_per_centroid=MIN_POINTS_PER_CENTROID, _reduction=None):
    """Build one pipeline on ``dataset`` and measure it: one row of the autoencoder paper's table.

    Parameters
    ----------
    dataset : rae_explore.datasets.Dataset
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
    recalls, k, n_gt = _needed_k(recalls)
    check_k(k, dataset.nb, name="k (largest m in recalls)")
    dataset = _with_ground_truth(dataset, n_gt)
    pipe = build_pipeline(dataset, index_factory, reducer, n_components=n_components, reducer_params=reducer_params,
                          search_params=search_params, n_threads=n_threads, random_state=random_state,
                          min_points_per_centroid=min_points_per_centroid, _reduction=_reduction)
    row = _build_columns(pipe, dataset, reducer, reducer_params, k)
    row.update(_search_param_columns(pipe, "given" if search_params else "default"))
    row["rerank_k"] = rerank_k
    row.update(measure_search(pipe, dataset, recalls=recalls, rerank_k=rerank_k, n_single=n_single, repeats=repeats))
    return _finish(row)


def sweep_pipeline(dataset, index_factory, reducer=None, *, sweep="auto", n_components=None, reducer_params=None,
                   rerank_k=None, recalls=PAPER_RECALLS, n_threads=1, random_state=0, n_single=100, repeats=1,
                   min_points_per_centroid=MIN_POINTS_PER_CENTROID, verbose=False, _reduction=None):
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
    recalls, k, n_gt = _needed_k(recalls)
    check_k(k, dataset.nb, name="k (largest m in recalls)")
    dataset = _with_ground_truth(dataset, n_gt)  # once, not per setting
    pipe = build_pipeline(dataset, index_factory, reducer, n_components=n_components, reducer_params=reducer_params,
                          n_threads=n_threads, random_state=random_state,
                          min_points_per_centroid=min_points_per_centroid, _reduction=_reduction)
    if isinstance(sweep, str):
        if sweep != "auto":
            raise ValueError(f"sweep must be 'auto', a dict {{param: [values]}} or None, got {sweep!r}")
        sweep = default_sweep(pipe.index_, k)
    settings = _sweep_settings(sweep or {})
    base = _build_columns(pipe, dataset, reducer, reducer_params, k)
    if verbose:
        from tqdm.auto import tqdm

        settings = tqdm(settings, desc=base["pipeline"], unit="setting")
    rows = []
    for s in settings:
        pipe.set_search_params(**s)
        row = dict(base, **_search_param_columns(pipe, "sweep" if s else "default"), rerank_k=rerank_k)
        row.update(measure_search(pipe, dataset, recalls=recalls, rerank_k=rerank_k, n_single=n_single,
                                  repeats=repeats))
        rows.append(_finish(row))
    return rows


def pareto_frontier(rows, x="10-R@10", y="qps", by="pipeline"):
    """Mark the settings no other setting beats on both ``x`` and ``y`` (higher is better for both).

    Parameters
    ----------
    rows : pandas.DataFrame or list of dict
    x, y : str
        Columns, e.g. a recall column and ``"qps"``.
    by : str or None
        Frontier per group (per pipeline by default); None for one frontier over all rows.

    Returns
    -------
    pandas.DataFrame
        A copy with a boolean column ``pareto``.
    """
    import pandas as pd

    df = pd.DataFrame(rows).copy()
    for c in (x, y) + ((by,) if by else ()):
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the rows; available: {sorted(df.columns)}")
    df["pareto"] = False
    groups = df.groupby(by, sort=False).groups.values() if by else [df.index]
    for idx in groups:
        sub = df.loc[idx].sort_values([x, y], ascending=[False, False])
        best = -np.inf
        for i, val in zip(sub.index, sub[y]):
            if val > best:
                df.loc[i, "pareto"] = True
                best = val
    return df


# --------------------------------------------------------------------------- grids of tasks
def _resolve_dim(dim, d):
    """An int is a dimension; a float in (0, 1] is a fraction of ``d`` (0.5 -> d // 2)."""
    if isinstance(dim, float):
        if not 0 < dim <= 1:
            raise ValueError(f"a float dimension is a fraction of d and must be in (0, 1], got {dim}")
        return max(1, int(d * dim))
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dims entries must be positive ints or fractions in (0, 1], got {dim!r}")
    return int(dim)


def expand_grid(dataset, reducers=(None,), dims=(), indexes=("Flat",), *, dataset_params=None,
                reducer_params=None, search_params=None, sweep=None, rerank_k=None, recalls=PAPER_RECALLS,
                n_threads=1, random_state=0, n_single=100):
    """Plain config dicts for reducers x dims x indexes (reducer None: one config per index, no dims).

    Parameters
    ----------
    dataset : str
        A registered dataset name (tasks load it themselves, so configs stay small and picklable).
    reducers : sequence of str or None
    dims : sequence of int or float
        Reduced dimensions; floats in (0, 1] are fractions of the dataset's ``d``, resolved in
        the task (``0.5`` -> ``d // 2``).
    indexes : sequence of str
        faiss ``index_factory`` strings.
    dataset_params : dict, optional
        Passed to :func:`rae_explore.datasets.load_dataset` (``seed``, ``n_samples``, ...).
    reducer_params : dict, optional
        ``{reducer_name: {param: value}}``.
    search_params, sweep, rerank_k, recalls, n_threads, random_state, n_single
        As :func:`evaluate_pipeline` / :func:`sweep_pipeline`; a ``sweep`` makes each task a sweep.

    Returns
    -------
    list of dict
    """
    if isinstance(reducers, str) or reducers is None:
        reducers = [reducers]
    if isinstance(indexes, str):
        indexes = [indexes]
    if isinstance(dims, (int, float)):
        dims = [dims]
    reducer_params = reducer_params or {}
    configs = []
    for red in reducers:
        red = None if red is None or str(red).lower() == "none" else str(red).lower()
        if red is not None and not dims:
            raise ValueError(f"reducer {red!r} needs at least one entry in dims")
        for dim in ([None] if red is None else dims):
            for ix in indexes:
                configs.append({
                    "dataset": dataset, "dataset_params": dict(dataset_params or {}), "reducer": red,
                    "reducer_params": dict(reducer_params.get(red, {})) if red else {}, "n_components": dim,
                    "index": ix, "search_params": search_params, "sweep": sweep, "rerank_k": rerank_k,
                    "recalls": [list(r) for r in recalls], "n_threads": n_threads, "random_state": random_state,
                    "n_single": n_single,
                })
    return configs


@functools.lru_cache(maxsize=2)
def _cached_dataset(name, params_json, k_gt):
    from .datasets import load_dataset

    ds = load_dataset(name, **json.loads(params_json))
    return ds.with_ground_truth(k_gt) if ds.gt is None or ds.gt.shape[1] < k_gt else ds


@functools.lru_cache(maxsize=4)
def _cached_reduction(name, params_json, k_gt, reducer, n_components, reducer_params_json, random_state):
    ds = _cached_dataset(name, params_json, k_gt)
    xb, xt = as_float32(ds.xb, "xb"), None if ds.xt is None else as_float32(ds.xt, "xt")
    if ds.metric == "cosine":
        xb, xt = _normalized(xb), None if xt is None else _normalized(xt)
    return fit_reduction(xb, xt, reducer, n_components, json.loads(reducer_params_json), random_state, ds.metric)


def run_task(config):
    """Run one config from :func:`expand_grid`: its rows (one per search setting; one without a sweep).

    An independent, picklable task (plain dict in, list of plain dicts out): the dataset, its
    ground truth and the fitted reducer are cached per process, so consecutive tasks on the
    same reducer and dimension fit it once (``reducer_fit_time_s`` is the time of that fit).
    """
    cfg = dict(config)
    recalls, _, _ = _needed_k(cfg.get("recalls", PAPER_RECALLS))
    k_gt = max(max(n for n, _ in recalls), max(m for _, m in recalls))
    params_json = json.dumps(cfg.get("dataset_params") or {}, sort_keys=True)
    ds = _cached_dataset(cfg["dataset"], params_json, k_gt)
    reducer = cfg.get("reducer")
    n_comp = None if reducer is None else _resolve_dim(cfg.get("n_components"), ds.d)
    red = _cached_reduction(cfg["dataset"], params_json, k_gt, reducer, n_comp,
                            json.dumps(cfg.get("reducer_params") or {}, sort_keys=True), cfg.get("random_state", 0))
    common = dict(n_components=n_comp, reducer_params=cfg.get("reducer_params") or None,
                  rerank_k=cfg.get("rerank_k"), recalls=recalls, n_threads=cfg.get("n_threads", 1),
                  random_state=cfg.get("random_state", 0), n_single=cfg.get("n_single", 100), _reduction=red)
    if cfg.get("sweep"):
        rows = sweep_pipeline(ds, cfg["index"], reducer, sweep=cfg["sweep"], **common)
    else:
        rows = [evaluate_pipeline(ds, cfg["index"], reducer, search_params=cfg.get("search_params"), **common)]
    cid = task_id(config)
    return [dict(r, config_id=cid, status="ok") for r in rows]


def load_results(path):
    """Rows of a results file written by :func:`run_grid` (JSON lines) as a DataFrame."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {path}; run run_grid(configs, {str(path)!r}) first")
    return pd.DataFrame(read_rows(path))


def run_grid(configs, out, *, resume=True, errors="record", executor=None, verbose=False):
    """Run configs with :func:`run_task`, rewriting ``out`` (JSON lines) atomically after each one.

    Parameters
    ----------
    configs : list of dict
        From :func:`expand_grid`.
    out : path
        Results file (``.jsonl``; ``.csv`` and ``.parquet`` work too). Written through
        :func:`rae_explore.formats.atomic_write`, so an interrupted run leaves the last complete
        version.
    resume : bool
        Skip configs whose rows (status "ok") are already in ``out``; failed ones are retried.
    errors : {"record", "raise"}
        "record" writes one row with ``status="error"`` and the message, then continues.
    executor : object with ``map(fn, iterable)``, optional
        A process pool (``"spawn"`` context) or a Dask client's executor; default: this process.
    verbose : bool
        tqdm progress over configs.

    Returns
    -------
    pandas.DataFrame
        All rows in ``out``.
    """
    import pandas as pd

    rows = run_tasks(run_task, configs, out, resume=resume, errors=errors, executor=executor, verbose=verbose,
                     desc="pipelines")
    return pd.DataFrame(rows)


def best_settings(rows, metric="10-R@10", target=0.9, qps="qps"):
    """Per pipeline, the fastest search setting whose ``metric`` reaches ``target``.

    Pipelines that never reach it keep their most accurate setting, flagged ``reached=False``
    (compare pipelines "at equal recall" only among rows with ``reached``).

    Returns
    -------
    pandas.DataFrame
        One row per pipeline (all row columns, plus ``reached``): those reaching the target
        first, each group sorted by ``qps`` descending.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    for c in ("pipeline", metric, qps):
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the rows; available: {sorted(df.columns)}")
    df = df[df[metric].notna()]  # e.g. rows evaluated without re-ranking, for a rerank_ metric
    if df.empty:
        raise ValueError(f"no row has a value for {metric!r}")
    out = []
    for _, g in df.groupby("pipeline", sort=False):
        ok = g[g[metric] >= target]
        best = ok.loc[ok[qps].idxmax()] if len(ok) else g.loc[g[metric].idxmax()]
        out.append(dict(best, reached=bool(len(ok))))
    return pd.DataFrame(out).sort_values(["reached", qps], ascending=[False, False]).reset_index(drop=True)


def build_speedups(rows, min_build_s=0.0):
    """Build time of every compressed pipeline against the uncompressed index of the same string.

    ``min_build_s`` drops index strings whose uncompressed build takes less than that (a Flat
    index "builds" in microseconds: its ratio is timer noise).

    Returns
    -------
    pandas.DataFrame
        pipeline, index, reducer, n_components, build_time_s, baseline_build_time_s (reducer
        "none", same index string), speedup (baseline / build_time_s, > 1 = faster), and
        ``speedup_with_reducer`` counting the reducer's fit and the base's reduction as well.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    df = df.drop_duplicates("pipeline")
    base = df[df["reducer"] == "none"].set_index("index")["build_time_s"]
    out = df[df["reducer"] != "none"][["pipeline", "index", "reducer", "n_components", "build_time_s",
                                       "reducer_fit_time_s", "base_reduce_time_s"]].copy()
    out["baseline_build_time_s"] = out["index"].map(base)
    out = out[~(out["baseline_build_time_s"] < min_build_s)]
    out["speedup"] = out["baseline_build_time_s"] / out["build_time_s"]
    total = out["build_time_s"] + out["reducer_fit_time_s"] + out["base_reduce_time_s"]
    out["speedup_with_reducer"] = out["baseline_build_time_s"] / total
    return out.reset_index(drop=True)


def paper_table(rows, rerank=False):
    """The autoencoder paper's table from rows: one line per pipeline and search setting.

    Columns: pipeline, index, search_params, the six recalls (``rerank_`` ones if ``rerank``), index size
    (MB), cr, ss, one-vector search (ms), overall search (s), train+index (s), reducer fit (s).
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    pre = "rerank_" if rerank else ""
    if rerank and "rerank_search_time_s" not in df.columns:
        raise ValueError("rerank=True but the rows have no re-ranked columns; evaluate with rerank_k=...")
    rec = [pre + recall_column(n, m) for n, m in PAPER_RECALLS if pre + recall_column(n, m) in df.columns]
    out = df[["pipeline", "index", "search_params"] + rec].copy()
    out["size_MB"] = df["index_bytes"] / 2**20
    out["cr"], out["ss"] = df["cr"], df["ss"]
    out["one_query_ms"] = df["one_query_ms"]
    out["search_s"] = df["rerank_search_time_s" if rerank else "search_time_s"]
    out["train_index_s"] = df["build_time_s"]
    out["reducer_fit_s"] = df["reducer_fit_time_s"]
    return out.reset_index(drop=True)
