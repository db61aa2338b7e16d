"""Lattice-quantised pipelines: a reducer (the Catalyzer by default), then a Zn lattice code of b bits.

"Spreading vectors for similarity search" (Sablayrolles et al., ICLR 2019) pairs its Catalyzer
with a lattice quantizer: the unit-norm codes are quantised to the nearest point of the sphere
``{y ∈ Z^d : ||y||² = r²}`` (scaled back to norm 1), and the number of such points fixes the code
size, ``ceil(log2 |S(d, r²)|)`` bits. faiss ships the codec (``ZnSphereCodec``, d <= 64, codes
up to 64 bits) and a product of them with quantised norms (``IndexLattice``: ``nsq`` sub-vectors,
each a spherical code plus ``scale_nbit`` bits of its norm), used here when the code does not
fit one sphere (d_out > 64 or more than 64 bits).

:class:`LatticePipeline` has the search interface of :class:`~rae_explore.index.pipeline.IndexPipeline`
(``fit(xb, xt)``, ``reduce``, ``search``): the base is reduced, L2-normalised (the spherical code
keeps directions; the Catalyzer's codes already have norm 1), encoded, and decoded again into
a flat index that the reduced queries search unquantised (asymmetric distances, as the paper's
evaluation does). ``index_bytes_`` counts the codes (``nb · ceil(bits / 8)``), what an index would
store. :func:`evaluate_lattice` measures it as one row of :mod:`.measure` (1-R@1, 1-R@10, 10-R@10
by default), to set next to PCA or OPQ + PQ at the same number of bits (``PQ{b/8}``).

>>> row = evaluate_lattice(load_dataset("sift5k"), 64, "catalyzer", n_components=32)   # doctest: +SKIP
"""

import functools
import logging
import math
import re
import time

import faiss
import numpy as np

from ..threads import limit_threads
from ..validation import as_float32, check_int, check_k, check_metric, check_same_dim
from ..vectors import for_metric, l2_normalize
from .measure import (
    _build_columns,
    _finish,
    _with_ground_truth,
    measure_search,
    needed_k,
)
from .pipeline import FittedReduction, SearchPipeline, fit_reduction

logger = logging.getLogger(__name__)

#: The spreading-vectors paper's table: 1-R@1, 1-R@10, 10-R@10.
LATTICE_RECALLS = ((1, 1), (1, 10), (10, 10))

#: Largest dimension and code of one faiss spherical codec (``ZnSphereCodec``).
MAX_SPHERE_DIM = 64
MAX_SPHERE_BITS = 64
#: Largest squared radius faiss's Zn search accepts.
MAX_R2 = 512

_LATTICE_NAME = re.compile(r"^\s*lattice\s*(\d+)\s*$", re.IGNORECASE)


def lattice_bits(index):
    """Bits of a lattice index name ``"Lattice{b}"`` (``"Lattice64"`` -> 64), None for any other string.

    Grids and the ``pipeline`` command take this name next to faiss ``index_factory`` strings.
    """
    match = _LATTICE_NAME.match(index) if isinstance(index, str) else None
    if match is None:
        return None
    return check_int(int(match.group(1)), "the bits of a Lattice index", low=1,
                     what='a positive number of bits, e.g. "Lattice64"')


@functools.cache
def _sphere_counts(d):
    """``|S(d, n)|`` for n = 0 … MAX_R2: integer points of norm² n in Z^d (exact ints, by sums of squares)."""
    ways = [1] + [0] * MAX_R2
    squares = [k * k for k in range(math.isqrt(MAX_R2) + 1)]
    for _ in range(d):  # add one coordinate: k² with k = 0 (one way) or ±k (two ways)
        new = [0] * (MAX_R2 + 1)
        for n, w in enumerate(ways):
            if w:
                for k, sq in enumerate(squares):
                    if n + sq > MAX_R2:
                        break
                    new[n + sq] += w if k == 0 else 2 * w
        ways = new
    return tuple(ways)


def sphere_bits(d, r2):
    """Bits of the spherical Zn code of dimension ``d`` and squared radius ``r2``: ``log2 |S(d, r2)|``.

    Counted exactly here (faiss's ``ZnSphereCodec.nv`` is a 64-bit count, and building the codec
    to read it is slow for large radii).
    """
    return math.log2(_sphere_counts(int(d))[int(r2)])


def lattice_r2(d, bits):
    """Squared radius ``r2`` of the fullest sphere of Z^d whose code fits in ``bits`` bits.

    Parameters
    ----------
    d : int, 1 <= d <= 64
    bits : int >= 1

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If even ``r2 = 1`` (the ``2 d`` points ``±e_i``) needs more than ``bits`` bits.
    """
    d = check_int(d, "d", low=1, high=MAX_SPHERE_DIM, what=f"an integer in [1, {MAX_SPHERE_DIM}] (faiss's Zn codec)")
    bits = check_int(bits, "bits", low=1)
    if math.ceil(sphere_bits(d, 1)) > bits:
        raise ValueError(f"bits={bits} is too few for a lattice code in dimension {d}: the smallest sphere (r2=1) has "
                         f"{2 * d} points, {math.ceil(sphere_bits(d, 1))} bits; use more bits or a smaller dimension")
    best, most = 1, _sphere_counts(d)[1]
    for r2 in range(2, MAX_R2 + 1):  # counts grow with r2, but for a few small radii in low dimension
        count = _sphere_counts(d)[r2]
        if math.ceil(math.log2(max(count, 1))) > bits:
            break
        if count > most:  # the fullest sphere that fits (e.g. in Z^3: r2=2 has 12 points, r2=4 only 6)
            best, most = r2, count
    return best


class LatticeCodec:
    """Encode unit vectors to ``bits``-bit lattice codes and decode them (faiss's Zn codecs).

    One spherical code (``ZnSphereCodec``) when ``d <= 64`` and ``bits <= 64``; otherwise a product
    of ``nsq`` spherical codes with ``scale_nbit``-bit norms (``IndexLattice``), ``nsq`` the
    fewest sub-vectors that fit, trained on the norms by :meth:`fit`.

    Parameters
    ----------
    d : int
    bits : int
        Code budget per vector; the code actually used is ``code_bits`` <= ``bits``.
    scale_nbit : int
        Norm bits per sub-vector in the product case.

    Attributes
    ----------
    kind : {"sphere", "product"}
    r2 : int
        Squared radius of the (sub-)sphere.
    nsq : int
    code_bits : int
    code_bytes : int
    """

    def __init__(self, d, bits, scale_nbit=4):
        self.d = check_int(d, "d", low=1)
        self.bits = check_int(bits, "bits", low=1)
        self.scale_nbit = check_int(scale_nbit, "scale_nbit", low=1)
        if self.d <= MAX_SPHERE_DIM and self.bits <= MAX_SPHERE_BITS:
            self.kind, self.nsq, self.r2 = "sphere", 1, lattice_r2(self.d, self.bits)
            self._codec = faiss.ZnSphereCodec(self.d, self.r2)
            self.code_bits = math.ceil(sphere_bits(self.d, self.r2))
            self.code_bytes = math.ceil(self.code_bits / 8)
            return
        self.kind = "product"
        for nsq in range(1, self.d + 1):
            sub = self.d // nsq
            per = self.bits // nsq - self.scale_nbit
            if self.d % nsq or sub > MAX_SPHERE_DIM or per > MAX_SPHERE_BITS:
                continue
            if per < 1 or math.ceil(sphere_bits(sub, 1)) > per:
                raise ValueError(f"bits={bits} is too few for a lattice code of a {d}-d vector: split into {nsq} "
                                 f"sub-vectors of {sub} dimensions, each gets {per} bits besides its norm; "
                                 "use more bits")
            self.nsq, self.r2 = nsq, lattice_r2(sub, per)
            break
        else:  # pragma: no cover - nsq = d always fits
            raise ValueError(f"no lattice code of {bits} bits for dimension {d}")
        self._codec = faiss.IndexLattice(self.d, self.nsq, self.scale_nbit, self.r2)
        self.code_bytes = int(self._codec.sa_code_size())
        self.code_bits = self.nsq * (self.scale_nbit + math.ceil(sphere_bits(self.d // self.nsq, self.r2)))

    def fit(self, X):
        """Learn the norm ranges of the sub-vectors (product codes only); ``X`` (n, d) float32."""
        if self.kind == "product":
            self._codec.train(np.ascontiguousarray(X, dtype=np.float32))
        return self

    def encode(self, X):
        """Codes of unit rows ``X`` (n, d): uint64 (n,) for a sphere, uint8 (n, code_bytes) for a product."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.kind == "sphere":
            codes = np.empty(len(X), np.uint64)
            self._codec.encode_multi(len(X), faiss.swig_ptr(X), faiss.swig_ptr(codes))
            return codes
        return self._codec.sa_encode(X)

    def decode(self, codes):
        """Reconstructions (n, d), float32 (unit norm for a sphere)."""
        if self.kind == "sphere":
            codes = np.ascontiguousarray(codes, dtype=np.uint64)
            out = np.empty((len(codes), self.d), np.float32)
            self._codec.decode_multi(len(codes), faiss.swig_ptr(codes), faiss.swig_ptr(out))
            return out / np.float32(math.sqrt(self.r2))  # faiss decodes onto the sphere of radius sqrt(r2)
        return self._codec.sa_decode(np.ascontiguousarray(codes, dtype=np.uint8))

    def __repr__(self):
        return (f"LatticeCodec(d={self.d}, bits={self.bits}: {self.kind}, nsq={self.nsq}, r2={self.r2}, "
                f"{self.code_bits} bits)")


class LatticePipeline(SearchPipeline):
    """Reducer (the Catalyzer by default) + lattice code of ``bits`` bits; asymmetric flat search.

    Parameters
    ----------
    bits : int
        Code budget per vector (the paper: 16, 32, 64).
    reducer : None, str, estimator or FittedReduction
        As :class:`~rae_explore.index.pipeline.IndexPipeline` (default ``"catalyzer"``); a
        :class:`~rae_explore.index.pipeline.FittedReduction` is used as it is (one fit, several ``bits``).
    n_components : int, optional
    reducer_params : dict, optional
    metric : {"l2", "ip", "cosine"}
        The original space's metric (cosine normalises first); the lattice search is L2 on the
        L2-normalised reduced vectors, i.e. by cosine in the reduced space.
    n_threads : int
        faiss threads while searching.
    random_state : int
        Seeds the reducer.

    Attributes
    ----------
    reducer_, codec_ (:class:`LatticeCodec`), index_ (faiss.IndexFlatL2 of the decoded base),
    codes_, d_in_, d_out_, n_train_, code_bits_, index_bytes_, timings_
    """

    def __init__(self, bits, reducer="catalyzer", *, n_components=None, reducer_params=None, metric="l2", n_threads=1,
                 random_state=0):
        self.bits = bits
        self.reducer = reducer
        self.n_components = n_components
        self.reducer_params = reducer_params
        self.metric = metric
        self.n_threads = n_threads
        self.random_state = random_state

    @property
    def index_factory(self):
        """A name for the rows: ``"Lattice{bits}"``."""
        return f"Lattice{self.bits}"

    def fit(self, xb, xt=None):
        """Fit the reducer on ``xt`` (or ``xb``), encode the reduced base; returns ``self``.

        Parameters
        ----------
        xb : array-like, shape (nb, d)
        xt : array-like, shape (nt, d), optional
        """
        check_metric(self.metric)
        check_int(self.n_threads, "n_threads", low=1)
        bits = check_int(self.bits, "bits", low=1)
        xb = as_float32(xb, "xb")
        if xt is not None:
            xt = as_float32(xt, "xt")
            check_same_dim(xt, xb, ("xt", "xb"))
        self.d_in_ = xb.shape[1]
        xb = for_metric(xb, self.metric, "xb")
        xt = None if xt is None else for_metric(xt, self.metric, "xt")
        if isinstance(self.reducer, FittedReduction):  # fitted once, coded at several bit budgets
            red = self.reducer
            if red.xb.shape[0] != xb.shape[0]:
                raise ValueError(f"the FittedReduction reduced {red.xb.shape[0]} base vectors but xb has "
                                 f"{xb.shape[0]}; fit the pipeline on the base the reduction was computed on")
        else:
            red = fit_reduction(xb, xt, self.reducer, self.n_components, self.reducer_params, self.random_state,
                                self.metric)
        self.reducer_ = red.reducer
        xb_r = l2_normalize(red.xb, "reduced xb")
        xt_r = xb_r if red.xt is None else l2_normalize(red.xt, "reduced xt")
        self.d_out_, self.n_train_ = xb_r.shape[1], xt_r.shape[0]
        t0 = time.perf_counter()
        self.codec_ = LatticeCodec(self.d_out_, bits).fit(xt_r)
        t1 = time.perf_counter()
        self.codes_ = self.codec_.encode(xb_r)
        self.index_ = faiss.IndexFlatL2(self.d_out_)
        self.index_.add(self.codec_.decode(self.codes_))
        t2 = time.perf_counter()
        self.code_bits_ = self.codec_.code_bits
        self.index_bytes_ = xb_r.shape[0] * self.codec_.code_bytes
        self.timings_ = {"reducer_fit_time_s": red.fit_time_s, "base_reduce_time_s": red.reduce_time_s,
                         "train_time_s": t1 - t0, "add_time_s": t2 - t1}
        logger.info("lattice %s on %d x %d in %.3f s", self.codec_, xb_r.shape[0], self.d_out_, t2 - t0)
        return self

    def reduce(self, X):
        """Queries as the index sees them: normalised for the metric, reduced, L2-normalised; float32."""
        X = self._prepare_queries(X)
        if self.reducer_ is not None:
            X = as_float32(np.asarray(self.reducer_.transform(X)), "reduced xq")
        return l2_normalize(X, "reduced xq")

    @property
    def search_params_(self):
        """None to set: a flat search of the decoded codes."""
        return {}

    def search(self, xq, k):
        """Reduce ``xq`` and search the decoded codes: ``D`` float32 (nq, k) squared L2, ``I`` int64 (nq, k)."""
        self._check_fitted()
        k = check_k(k, self.index_.ntotal)
        xq_r = self.reduce(xq)
        with limit_threads(faiss=int(self.n_threads)):
            return self.index_.search(xq_r, k)


def evaluate_lattice(dataset, bits, reducer="catalyzer", *, n_components=None, reducer_params=None,
                     recalls=LATTICE_RECALLS, n_threads=1, random_state=0, n_single=100, repeats=1):
    """Build a :class:`LatticePipeline` on ``dataset`` and measure it: one row as ``evaluate_pipeline`` gives.

    Parameters
    ----------
    dataset : rae_explore.data.datasets.Dataset
    bits : int
    reducer, n_components, reducer_params, n_threads, random_state
        See :class:`LatticePipeline`.
    recalls : sequence of (n, m)
        Default the paper's 1-R@1, 1-R@10, 10-R@10.
    n_single, repeats : int
        See :func:`~rae_explore.index.measure.measure_search`.

    Returns
    -------
    dict
        The columns of :func:`~rae_explore.index.measure.evaluate_pipeline` (``index`` is
        ``"Lattice{bits}"``), plus ``bits`` (the budget), ``code_bits`` (used) and ``lattice_r2``.
    """
    recalls, k, n_gt = needed_k(recalls)
    check_k(k, dataset.nb, name="k (largest m in recalls)")
    dataset = _with_ground_truth(dataset, n_gt)
    pipe = LatticePipeline(bits, reducer, n_components=n_components, reducer_params=reducer_params,
                           metric=dataset.metric, n_threads=n_threads, random_state=random_state)
    pipe.fit(dataset.xb, dataset.xt)
    row = _build_columns(pipe, dataset, reducer, reducer_params, k)
    row.update({"bits": int(bits), "code_bits": int(pipe.code_bits_), "lattice_r2": int(pipe.codec_.r2),
                "lattice_nsq": int(pipe.codec_.nsq), "search_params": "none", "search_params_source": "default",
                "rerank_k": None})
    row.update(measure_search(pipe, dataset, recalls=recalls, n_single=n_single, repeats=repeats))
    return _finish(row)


__all__ = ["LATTICE_RECALLS", "LatticeCodec", "LatticePipeline", "evaluate_lattice", "lattice_bits", "lattice_r2",
           "sphere_bits"]
