"""faiss index factory strings: build, check the training-set size, read and set search parameters.

Training-set checks (faiss's k-means wants at least ``39 * k`` points for ``k`` centroids, and
fails below ``k``): fewer than :data:`MIN_POINTS_PER_CENTROID` (10) training points per
centroid of an IVF or PQ stage raises ``ValueError`` naming a size that fits; fewer than
:data:`FAISS_MIN_POINTS_PER_CENTROID` (39) warns with :class:`TrainingSizeWarning`.

Training cost: an ``index_factory`` "PQ<M>" (8-bit) also runs faiss's polysemous training, which
only serves Hamming-threshold filtering (search parameter ``ht``) and dominates training time
(IVF64,PQ32 on 9,000 x 384: ~94 s vs ~6 s for "IVF64,PQ32np"); append ``np`` to skip it.
"""

import math
import re
import warnings

import faiss

from ..grid import grid_product
from ..neighbors.knn import faiss_metric
from ..validation import check_metric
from .validate import check_index_factory, check_search_params

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


# --------------------------------------------------------------------------- faiss helpers
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
        L2-normalised by the pipeline, as :mod:`rae_explore.neighbors.knn` does).

    Returns
    -------
    faiss.Index (untrained)

    Raises
    ------
    ValueError
        Unparsable string (with examples); a number out of the range faiss survives
        (:func:`rae_explore.index.validate.check_index_factory`: ``HNSW1``, ``PQ8x0``, ``NSG0``...);
        a PQ whose ``M`` does not divide the dimension (listing the ``M`` that do); a structure
        faiss rejects for this metric or dimension.
    """
    check_metric(metric)
    check_index_factory(index_factory, d)
    try:
        return faiss.index_factory(int(d), index_factory, faiss_metric(metric))
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


def quiet_faiss_clustering(index):
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
    TypeError, ValueError
        A value out of its range (:func:`rae_explore.index.validate.check_search_params`:
        ``efSearch=0``, ``nprobe > nlist``...); a parameter the index does not have, naming those it does.
    """
    ivf = [i for i in _nested(index) if isinstance(i, faiss.IndexIVF)]
    params = check_search_params(params, nlist=int(ivf[0].nlist) if ivf else None)
    for name, value in params.items():
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


def search_settings(sweep):
    """The search settings of a sweep ``{name: [values]}``, as a list of dicts (``[{}]`` for an empty sweep)."""
    return grid_product(sweep, label="sweep", allow_scalars=True)


def index_bytes(index):
    """Size of the index as written to disk: ``len(faiss.serialize_index(index))``."""
    return int(faiss.serialize_index(index).size)
