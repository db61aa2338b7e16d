"""Exact ground truth computed once: an on-disk cache keyed by what was searched.

At 1M x 128 with 10k queries the exact k-NN search is most of an ``evaluate`` call, and every
method of a sweep on the same dataset needs the same neighbours. :func:`cached_ground_truth`
keeps them under ``data/cache/ground-truth/`` in one ``.npz`` file per (base, queries, metric):

- **key**: a BLAKE2b fingerprint of the bytes, shape and dtype of the queries and of the base
  (read in blocks, so a memory-mapped base is never loaded whole) and the metric. A different
  split, subsample, normalisation or file gives a different key.
- **content**: the ids ``I`` (int64, ``(nq, k)``) and the distances ``D`` (float32, as
  :func:`~rae_explore.neighbors.knn.knn_search` returns them; what makes top-k accuracy
  tie-aware) of the largest ``k`` asked so far, plus the key fields again. A request for ``k``
  columns reuses a file with at least ``k``; otherwise it is recomputed with the larger ``k``
  and replaced.
- **trust**: a file is used only if it loads without pickle, is of the current format (format 1
  files held ids only: they are recomputed), its stored key equals the request's, its ids have
  the right shape and lie in ``[0, nb)`` and its distances have the ids' shape, are finite and
  sorted nearest first. Anything else (truncated, foreign, edited) is logged and recomputed,
  never trusted. Files are written atomically.

Small problems are not cached (``min_work``): below about 2**30 distance computations x dims the
search takes well under a second and a file per tiny test set would only clutter the cache.
Set ``RAE_EXPLORE_GT_CACHE=0`` to switch the cache off.
"""

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..paths import DATA_DIR
from .knn import knn_search, release_pages

logger = logging.getLogger(__name__)

GT_CACHE_DIR = DATA_DIR / "cache" / "ground-truth"
#: nq * nb * d below which ground truth is computed without the cache (about 0.1-0.5 s on 2 cores)
MIN_WORK = 2 ** 30
_BLOCK_BYTES = 64 << 20
_FORMAT = 2  # 1: ids only (no distances), recomputed on sight


def fingerprint(x, block_bytes=_BLOCK_BYTES):
    """BLAKE2b hex digest of an array's dtype, shape and bytes, read in row blocks.

    Parameters
    ----------
    x : array-like, shape (n, d)
        A memory map stays one: rows are hashed ``block_bytes`` at a time.

    Returns
    -------
    str
        32 hex characters.
    """
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{x.dtype.str}|{x.shape}".encode())
    rows = max(1, block_bytes // max(1, x[:1].nbytes))
    for a in range(0, x.shape[0], rows):
        h.update(np.ascontiguousarray(x[a:a + rows]).data)
        release_pages(x)
    return h.hexdigest()


def cache_enabled():
    """False when the environment variable ``RAE_EXPLORE_GT_CACHE`` is ``0``, ``false`` or ``no``."""
    return os.environ.get("RAE_EXPLORE_GT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def _cache_file(cache_dir, key):
    return Path(cache_dir) / f"gt-{key}.npz"


def _read(path, key, nq, nb, k, metric):
    """The cached ``(D, I)`` with at least ``k`` columns, or None (missing, too few columns, or untrusted)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            fmt = int(f["format"])
            if fmt != _FORMAT:
                logger.warning("ground-truth cache %s is of format %d (%s), not %d; recomputing it", path, fmt,
                               "ids without distances" if fmt == 1 else "unknown", _FORMAT)
                return None
            stored_key = str(f["key"])
            ids, dist = f["I"], f["D"]
    except Exception as exc:  # truncated zip, missing member, pickled object...
        logger.warning("ground-truth cache %s is unreadable (%s); recomputing it", path, exc)
        return None
    if stored_key != key:
        logger.warning("ground-truth cache %s belongs to other data; recomputing it", path)
        return None
    if ids.ndim != 2 or ids.shape[0] != nq or ids.dtype.kind not in "iu" or (
            ids.size and (ids.min() < 0 or ids.max() >= nb)):
        logger.warning("ground-truth cache %s has ids of the wrong shape or range; recomputing it", path)
        return None
    ok = dist.shape == ids.shape and dist.dtype.kind == "f" and bool(np.isfinite(dist).all())
    if ok:
        step = np.diff(dist, axis=1)
        ok = not bool((step < 0).any() if metric == "l2" else (step > 0).any())  # nearest first
    if not ok:
        logger.warning("ground-truth cache %s has distances of the wrong shape, not finite or not sorted; "
                       "recomputing it", path)
        return None
    if ids.shape[1] < k:
        return None
    return np.ascontiguousarray(dist[:, :k], dtype=np.float32), np.ascontiguousarray(ids[:, :k], dtype=np.int64)


def cached_ground_truth(xq, xb, k, metric="l2", *, return_distances=False, search=None, cache_dir=None,
                        min_work=None, verbose=False):
    """Ids (and distances) of the exact ``k`` nearest neighbours of ``xq`` in ``xb``, from the disk cache when it holds them.

    Parameters
    ----------
    xq : array-like, shape (nq, d)
        Queries, as searched (already normalised under the cosine rule).
    xb : array-like, shape (nb, d)
        Base; may be a memory map (hashed and searched in blocks).
    k : int
        Neighbours per query, ``1 <= k <= nb``.
    metric : {"l2", "ip", "cosine"}
    return_distances : bool
        Return ``(D, I)`` instead of ``I``.
    search : callable, optional
        ``search(k) -> (D, I)``, the exact search to run on a cache miss (e.g. one spread over a
        Dask cluster, :func:`rae_explore.experiments.distributed.distributed_ground_truth`);
        default :func:`~rae_explore.neighbors.knn.knn_search` in this process.
    cache_dir : path, optional
        Default :data:`GT_CACHE_DIR`.
    min_work : int, optional
        Problems with ``nq * nb * d`` below this are computed without the cache (default
        :data:`MIN_WORK`).
    verbose : bool
        Progress of the exact search.

    Returns
    -------
    I : ndarray, int64, shape (nq, k)
        Equal to :func:`~rae_explore.neighbors.knn.ground_truth` ``(xq, xb, k, metric)`` (up to
        the order of neighbours at exactly equal distances when a larger ``k`` was cached).
    or (D, I) with ``return_distances``; ``D`` float32 (nq, k) as ``knn_search`` returns it.
    """
    nq, nb, d = np.shape(xq)[0], np.shape(xb)[0], np.shape(xb)[1]

    def run():
        D, I = (search(k) if search is not None else knn_search(xq, xb, k, metric, verbose=verbose))
        return np.ascontiguousarray(D, dtype=np.float32), np.ascontiguousarray(I, dtype=np.int64)

    if not cache_enabled() or nq * nb * d < (MIN_WORK if min_work is None else min_work):
        D, I = run()
        return (D, I) if return_distances else I
    key = f"{fingerprint(xq)}-{fingerprint(xb)}-{metric}"
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    path = _cache_file(GT_CACHE_DIR if cache_dir is None else cache_dir, digest)
    got = _read(path, key, nq, nb, k, metric)
    if got is not None:
        logger.info("exact %d-NN of %d queries read from %s", k, nq, path)
        return got if return_distances else got[1]
    D, I = run()
    try:
        with atomic_write(path) as f:
            np.savez(f, I=I, D=D, key=np.array(key), format=np.array(_FORMAT))
    except OSError as exc:  # a read-only data folder must not stop the evaluation
        logger.warning("could not write the ground-truth cache %s (%s); continuing without it", path, exc)
    return (D, I) if return_distances else I
