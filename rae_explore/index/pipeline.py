"""An index pipeline: an optional reducer, then a faiss index, searched with the same reduction.

A *pipeline* is an optional reducer (a registered name + params, any sklearn-style estimator,
or a :class:`FittedReduction` computed once and shared) followed by a faiss ``index_factory``
string ("Flat", "HNSW32", "NSG32", "IVF256,PQ16", "OPQ16_64,IVF256,PQ16", "IVF1024,SQ8", ...)
and search parameters (``nprobe``, ``efSearch``, ``search_L``, ...). The reducer is fitted on
the training vectors (``Dataset.train``), the index is trained on the reduced training vectors
and filled with the reduced base; queries are reduced with the same fitted reducer. With
``rerank_k``, a shortlist from the reduced index is re-ranked with the original vectors.
Measuring pipelines is :mod:`rae_explore.index.measure`'s job; grids of them are
:mod:`rae_explore.experiments.pipeline_grid`'s.

Examples
--------
>>> pipe = IndexPipeline("IVF64,Flat", "pca", n_components=32, search_params={"nprobe": 8})  # doctest: +SKIP
>>> D, I = pipe.fit(ds.xb, ds.xt).search(ds.xq, 10)                                        # doctest: +SKIP
"""

import dataclasses
import json
import logging
import time

import faiss
import numpy as np
from sklearn.base import BaseEstimator

from ..neighbors.knn import faiss_metric
from ..threads import limit_threads
from ..validation import as_float32, check_int, check_k, check_metric, check_same_dim
from ..vectors import for_metric
from .factory import (
    MIN_POINTS_PER_CENTROID,
    check_training_size,
    index_bytes,
    make_index,
    quiet_faiss_clustering,
    search_params_of,
    set_search_params,
)
from .validate import check_search_params

logger = logging.getLogger(__name__)


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
            from ..reducers import make_reducer
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


def reducer_name(reducer):
    """Name of a reducer argument in rows: its registered name, ``"none"``, or the class name."""
    if isinstance(reducer, FittedReduction):
        return reducer.name
    if reducer is None:
        return "none"
    return reducer.lower() if isinstance(reducer, str) else type(reducer).__name__.lower()


def reducer_params_json(reducer, reducer_params):
    """The reducer's parameters (besides n_components and random_state) as sorted JSON, for rows."""
    if isinstance(reducer, FittedReduction):
        return reducer.params_json
    if isinstance(reducer, str) or reducer is None:
        return json.dumps(reducer_params or {}, sort_keys=True, default=str)
    p = {k: v for k, v in reducer.get_params(deep=False).items() if k not in ("n_components", "random_state")}
    return json.dumps(dict(p, **(reducer_params or {})), sort_keys=True, default=str)


def _check_n_threads(n_threads):
    return check_int(n_threads, "n_threads", low=1, what="a positive integer (faiss OpenMP threads)")


# --------------------------------------------------------------------------- the pipeline
class SearchPipeline(BaseEstimator):
    """What every fitted pipeline shares: the fitted check and the queries' preparation.

    Subclasses set ``index_`` (a faiss index), ``d_in_`` and ``metric`` in ``fit``.
    """

    def _check_fitted(self):
        if not hasattr(self, "index_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(xb) first")

    def _prepare_queries(self, X):
        """Queries ``X`` (nq, d_in) checked against the fitted dimension and normalised for the metric."""
        self._check_fitted()
        X = as_float32(X, "xq")
        if X.shape[1] != self.d_in_:
            raise ValueError(f"dimension mismatch: the queries have {X.shape[1]} columns but the pipeline was "
                             f"fitted on {self.d_in_}-d vectors; queries must come from the same embedding model")
        return for_metric(X, self.metric, "xq")


class IndexPipeline(SearchPipeline):
    """Reducer (optional) + faiss index, fitted on a base; search with the same reduction.

    Parameters
    ----------
    index_factory : str
        faiss ``index_factory`` string, built on the reduced dimension.
    reducer : None, str, estimator or FittedReduction
        None: index the original vectors. A :class:`FittedReduction`: use its fitted reducer and
        reduced vectors as they are (several indexes on one reduction). A name: :func:`rae_explore.reducers.make_reducer`
        with ``n_components``, ``random_state`` and ``reducer_params``. An estimator with
        ``fit``/``transform``: cloned, then ``n_components`` (and ``random_state`` if unset) applied.
    n_components : int, optional
        Reduced dimension.
    reducer_params : dict, optional
    metric : {"l2", "ip", "cosine"}
        Cosine: original vectors are L2-normalised before the reducer, the reduced vectors again
        after it, and an inner-product index is used (as :mod:`rae_explore.neighbors.knn` does).
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
    def fit(self, xb, xt=None):
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
            Bad factory string (numbers out of the range faiss survives, checked before the reducer
            fit), search parameters out of range (before the build), PQ ``M`` not dividing the
            dimension, too small a training set, NaN/inf, dimension mismatch.
        TypeError
            A search parameter that is not a number, or not an integer where one is needed.
        """
        check_metric(self.metric)
        n_threads = _check_n_threads(self.n_threads)
        check_search_params(self.search_params)  # ranges now, before the build (nprobe <= nlist: after it)
        xb = as_float32(xb, "xb")
        if xt is not None:
            xt = as_float32(xt, "xt")
            check_same_dim(xt, xb, ("xt", "xb"))
        self.d_in_ = xb.shape[1]
        xb = for_metric(xb, self.metric, "xb")
        xt = None if xt is None else for_metric(xt, self.metric, "xt")
        self._xb = xb  # originals (normalised for cosine), for re-ranking
        self._flat = None
        # fail fast on the factory string before an expensive reducer fit, when the dimension is known
        if isinstance(self.reducer, FittedReduction):
            red = self.reducer
            if red.xb.shape[0] != xb.shape[0]:
                raise ValueError(f"the FittedReduction reduced {red.xb.shape[0]} base vectors but xb has {xb.shape[0]}; "
                                 "fit the pipeline on the base the reduction was computed on")
        else:
            if self.reducer is None or self.n_components is not None:
                make_index(self.d_in_ if self.reducer is None else self.n_components, self.index_factory, self.metric)
            red = fit_reduction(xb, xt, self.reducer, self.n_components, self.reducer_params, self.random_state,
                                self.metric)
        self.reducer_ = red.reducer
        xb_r = red.xb
        xt_r = red.xt if red.xt is not None else xb_r
        self.d_out_ = xb_r.shape[1]
        self.n_train_ = xt_r.shape[0]
        index = make_index(self.d_out_, self.index_factory, self.metric)
        check_training_size(index, self.n_train_, self.index_factory, self.min_points_per_centroid)
        quiet_faiss_clustering(index)
        with limit_threads(faiss=n_threads):
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
        self.timings_ = {"reducer_fit_time_s": red.fit_time_s, "base_reduce_time_s": red.reduce_time_s,
                         "train_time_s": t1 - t0, "add_time_s": t2 - t1}
        self.index_bytes_ = index_bytes(index)
        logger.info("built %s on %d x %d (reduced from %d) in %.3f s; search params %s", self.index_factory,
                    xb_r.shape[0], self.d_out_, self.d_in_, t2 - t0, search_params_of(index))
        return self

    # ---- searching
    def reduce(self, X):
        """Queries as the index sees them: normalised (cosine), reduced, normalised again; float32."""
        X = self._prepare_queries(X)  # the fitted check first: reducer_ exists only after fit
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
            with limit_threads(faiss=_check_n_threads(self.n_threads)):
                return self.index_.search(xq_r, k)
        rerank_k = check_k(rerank_k, self.index_.ntotal, name="rerank_k")
        if rerank_k < k:
            raise ValueError(f"rerank_k={rerank_k} must be >= k={k}: the shortlist is re-ranked and cut to k")
        xq = as_float32(xq, "xq")
        xq = for_metric(xq, self.metric, "xq")
        with limit_threads(faiss=_check_n_threads(self.n_threads)):
            _, I = self.index_.search(xq_r, rerank_k)
            return self._rerank(xq, I, k)

    def _rerank(self, xq, I, k):
        """Exact original-space distances for the shortlist ``I`` (faiss ``compute_distance_subset``), best k."""
        if self._flat is None:
            self._flat = faiss.IndexFlat(self.d_in_, faiss_metric(self.metric))
            self._flat.add(self._xb)
        nq, kk = I.shape
        ids = np.ascontiguousarray(np.where(I < 0, 0, I), dtype=np.int64)
        D = np.empty((nq, kk), dtype=np.float32)
        self._flat.compute_distance_subset(nq, faiss.swig_ptr(xq), kk, faiss.swig_ptr(D), faiss.swig_ptr(ids))
        worst = np.float32(np.inf) if self.metric == "l2" else np.float32(-np.inf)
        D[I < 0] = worst
        order = np.argsort(D if self.metric == "l2" else -D, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(D, order, 1), np.take_along_axis(I, order, 1)


@dataclasses.dataclass(frozen=True)
class FittedReduction:
    """A reducer fitted once, with the vectors it reduced: pass it as an :class:`IndexPipeline`'s
    ``reducer`` to build several indexes on one reduction without fitting again (grids do).

    Attributes
    ----------
    reducer : fitted estimator or None
    name : str
        Registered name (``"none"`` without reduction).
    params_json : str
        The reducer's parameters as JSON, as the rows report them.
    xb, xt : ndarray, float32
        Reduced base and training vectors (``xt`` None without a separate training set).
    fit_time_s, reduce_time_s : float
        Fitting the reducer, reducing the base.
    """

    reducer: object
    name: str
    params_json: str
    xb: np.ndarray
    xt: object
    fit_time_s: float
    reduce_time_s: float

    @property
    def n_components(self):
        return self.xb.shape[1]


def fit_reduction(xb, xt, reducer, n_components=None, reducer_params=None, random_state=0, metric="l2"):
    """Fit the reducer on ``xt`` (or ``xb``) and reduce both, timed; inputs already prepared for ``metric``.

    Returns
    -------
    FittedReduction
    """
    est = _resolve_reducer(reducer, n_components, reducer_params, random_state)
    name, pjson = reducer_name(reducer), reducer_params_json(reducer, reducer_params)
    if est is None:
        return FittedReduction(None, name, pjson, xb, xt, 0.0, 0.0)
    train = xb if xt is None else xt
    t0 = time.perf_counter()
    est.fit(train)
    fit_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    xb_r = _apply_reducer(est, xb, metric)
    reduce_time = time.perf_counter() - t0
    xt_r = None if xt is None else _apply_reducer(est, xt, metric)
    return FittedReduction(est, name, pjson, xb_r, xt_r, fit_time, reduce_time)


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
    return for_metric(Y, metric, f"{type(est).__name__}.transform output")


def build_pipeline(dataset, index_factory, reducer=None, *, n_components=None, reducer_params=None,
                   search_params=None, n_threads=1, random_state=0, min_points_per_centroid=MIN_POINTS_PER_CENTROID):
    """Fit an :class:`IndexPipeline` on ``dataset`` (reducer on ``dataset.train``, index on the base)."""
    pipe = IndexPipeline(index_factory, reducer, n_components=n_components, reducer_params=reducer_params,
                         metric=dataset.metric, search_params=search_params, n_threads=n_threads,
                         random_state=random_state, min_points_per_centroid=min_points_per_centroid)
    return pipe.fit(dataset.xb, dataset.xt)
