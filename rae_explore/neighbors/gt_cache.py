"""Exact ground truth computed once: an on-disk cache keyed by what was searched.

At 1M x 128 with 10k queries the exact k-NN search is most of an ``evaluate`` call, and every
method of a sweep on the same dataset needs the same neighbours. :func:`cached_ground_truth`
keeps them under ``data/cache/ground-truth/`` in one ``.npz`` file per (base, queries, metric):

- **key**: a BLAKE2b fingerprint of the bytes, shape and dtype of the queries and of the base
  (read in blocks, so a memory-mapped base is never loaded whole) and the metric. A different
  split, subsample, normalisation or file gives a different key.
- **content**: the ids ``I`` (int64, ``(nq, k)``) of the largest ``k`` asked so far, plus the key
  fields again. A request for ``k`` columns reuses a file with at least ``k``; otherwise it is
  recomputed with the larger ``k`` and replaced.
- **trust**: a file is used only if it loads without pickle, its stored key equals the request's
  and its ids have the right shape and lie in ``[0, nb)``. Anything else (truncated, foreign,
  edited) is logged and recomputed, never trusted. Files are written atomically.

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
from .knn import knn_search

logger = logging.getLogger(__name__)

GT_CACHE_DIR = DATA_DIR / "cache" / "ground-truth"
#: nq * nb * d below which ground truth is computed without the cache (about 0.1-0.5 s on 2 cores)
MIN_WORK = 2 ** 30
_BLOCK_BYTES = 64 << 20
_FORMAT = 1


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
    return h.hexdigest()


def cache_enabled():
    """False when the environment variable ``RAE_EXPLORE_GT_CACHE`` is ``0``, ``false`` or ``no``."""
    return os.environ.get("RAE_EXPLORE_GT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def _cache_file(cache_dir, key):
    return Path(cache_dir) / f"gt-{key}.npz"


def _read(path, key, nq, nb, k):
    """The cached ids with at least ``k`` columns, or None (missing, too few columns, or untrusted)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            stored_key = str(f["key"])
            fmt = int(f["format"])
            ids = f["I"]
    except Exception as exc:  # truncated zip, missing member, pickled object...
        logger.warning("ground-truth cache %s is unreadable (%s); recomputing it", path, exc)
        return None
    if fmt != _FORMAT or stored_key != key:
        logger.warning("ground-truth cache %s belongs to other data; recomputing it", path)
        return None
    if ids.ndim != 2 or ids.shape[0] != nq or ids.dtype.kind not in "iu" or (
            ids.size and (ids.min() < 0 or ids.max() >= nb)):
        logger.warning("ground-truth cache %s has ids of the wrong shape or range; recomputing it", path)
        return None
    if ids.shape[1] < k:
        return None
    return np.ascontiguousarray(ids[:, :k], dtype=np.int64)


def cached_ground_truth(xq, xb, k, metric="l2", *, cache_dir=None, min_work=None, verbose=False):
    """Ids of the exact ``k`` nearest neighbours of ``xq`` in ``xb``, from the disk cache when it holds them.

    Parameters
    ----------
    xq : array-like, shape (nq, d)
        Queries, as searched (already normalised under the cosine rule).
    xb : array-like, shape (nb, d)
        Base; may be a memory map (hashed and searched in blocks).
    k : int
        Neighbours per query, ``1 <= k <= nb``.
    metric : {"l2", "ip", "cosine"}
    cache_dir : path, optional
        Default :data:`GT_CACHE_DIR`.
    min_work : int, optional
        Problems with ``nq * nb * d`` below this are computed without the cache (default
        :data:`MIN_WORK`).
    verbose : bool
        Progress of the exact search.

    Returns
    -------
    ndarray, int64, shape (nq, k)
        Equal to :func:`~rae_explore.neighbors.knn.ground_truth` ``(xq, xb, k, metric)`` (up to
        the order of neighbours at exactly equal distances when a larger ``k`` was cached).
    """
    nq, nb, d = np.shape(xq)[0], np.shape(xb)[0], np.shape(xb)[1]
    if not cache_enabled() or nq * nb * d < (MIN_WORK if min_work is None else min_work):
        return knn_search(xq, xb, k, metric, verbose=verbose)[1]
    key = f"{fingerprint(xq)}-{fingerprint(xb)}-{metric}"
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    path = _cache_file(GT_CACHE_DIR if cache_dir is None else cache_dir, digest)
    ids = _read(path, key, nq, nb, k)
    if ids is not None:
        logger.info("exact %d-NN of %d queries read from %s", k, nq, path)
        return ids
    ids = knn_search(xq, xb, k, metric, verbose=verbose)[1]
    try:
        with atomic_write(path) as f:
            np.savez(f, I=ids, key=np.array(key), format=np.array(_FORMAT))
    except OSError as exc:  # a read-only data folder must not stop the evaluation
        logger.warning("could not write the ground-truth cache %s (%s); continuing without it", path, exc)
    return ids
