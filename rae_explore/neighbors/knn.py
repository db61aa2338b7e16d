"""Exact k-nearest-neighbour search with faiss, in bounded memory, on every core.

``knn_search`` runs faiss's brute-force kernel (``faiss.knn``, the code behind ``IndexFlat``)
over the base in blocks and merges the per-block results in a ``faiss.ResultHeap``, so a
memory-mapped base of any size is never loaded whole.

Blocks are searched in parallel: as many threads as faiss may use (``faiss.omp_get_max_threads()``,
see :func:`rae_explore.threads.limit_threads`), each running faiss single-threaded on its own block.
On 2 cores this was 1.5-1.9x faster than one faiss call using both (whose OpenMP threads wait for
each other at every BLAS tile). How the data are cut into blocks depends on the shapes and
``block_bytes`` only, never on the thread count, and every block is searched by one thread, so
the result is the same, bit for bit, on a machine with any number of cores.

Memory bound (bytes), for ``nq`` queries, dimension ``d``, ``k`` neighbours, ``t`` threads:
``t * block_bytes`` (one float32 base block per thread; 64 MiB each by default)
+ one float32 query block (at most ``block_bytes``; ``t`` of them when the whole base is one block)
+ about ``(2 t + 2) * nq * k * 12`` (the result heap and the block results waiting to be merged)
+ faiss's own BLAS tiles (a few MiB per thread). The base size does not appear.

Metrics: ``"l2"`` returns squared Euclidean distances (faiss's convention), ascending;
``"ip"`` returns inner products, descending; ``"cosine"`` L2-normalises copies of both sides
and returns cosine similarities, descending.
"""

import collections
import itertools
import logging
import mmap
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np

from ..progress import progress_bar
from ..threads import limit_threads
from ..vectors import for_metric
from ..validation import assert_finite, check_2d, check_k, check_metric, check_same_dim

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_BYTES = 64 * 2**20
#: Blocks have at most ``max(MIN_BLOCK_ROWS, n / SPLIT)`` rows (see :func:`block_rows`), so that
#: every core has work.
MIN_BLOCK_ROWS = 4096
SPLIT = 8


def faiss_metric(metric):
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def _block(x, a, b, name, metric):
    """Rows [a, b) of x as float32 C-contiguous, checked finite, normalised for cosine."""
    blk = x[a:b]
    copy = blk.dtype != np.float32 or not blk.flags.c_contiguous
    blk = np.array(blk, dtype=np.float32, order="C", copy=True) if copy else np.asarray(blk)
    assert_finite(blk, name, offset=a)
    return for_metric(blk, metric, name, offset=a)


def knn_search(xq, xb, k, metric="l2", *, exclude_self=False, block_bytes=DEFAULT_BLOCK_BYTES, verbose=False):
    """Exact k-NN of every query in the base.

    Parameters
    ----------
    xq : array-like, shape (nq, d)
        Queries; any numeric dtype (uint8 SIFT is converted per block). May be memory-mapped.
    xb : array-like, shape (nb, d)
        Base; may be memory-mapped (e.g. :func:`rae_explore.data.formats.mmap_vecs`): only one block of
        ``block_bytes`` per thread is in RAM at a time.
    k : int
        Neighbours per query, ``1 <= k <= nb`` (``<= nb - 1`` with ``exclude_self``).
    metric : {"l2", "ip", "cosine"}
    exclude_self : bool
        Self-search: query ``i`` is base row ``i`` (``xq`` is ``xb``) and id ``i`` is removed from
        its own list. The id is removed wherever it ranks: with duplicate vectors the self match
        need not come first, so dropping "column 0" would be wrong.
    block_bytes : int
        Size of one float32 block of base (and of queries), in bytes; each thread holds one base
        block (see :func:`block_rows` for how the rows are cut).
    verbose : bool
        Show a tqdm progress bar over base blocks.

    Returns
    -------
    D : ndarray, float32, shape (nq, k)
        Squared L2 distances (ascending) or similarities (descending), see the module docstring.
    I : ndarray, int64, shape (nq, k)
        Row ids in ``xb``.

    Raises
    ------
    ValueError
        On a dimension mismatch, ``k`` out of range, NaN/inf (naming the first bad row), an
        unknown metric, or a zero vector under ``"cosine"``.

    Examples
    --------
    >>> D, I = knn_search(xq, xb, k=10, metric="l2")  # doctest: +SKIP
    """
    check_metric(metric)
    for x, name in ((xq, "xq"), (xb, "xb")):
        if not hasattr(x, "shape"):
            raise TypeError(f"{name} must be an array (numpy, memmap), got {type(x).__name__}")
        check_2d(x, name)
    check_same_dim(xq, xb)
    nq, d = xq.shape
    nb = xb.shape[0]
    if exclude_self:
        if nq != nb:
            raise ValueError(f"exclude_self=True needs the queries to be the base (nq == nb), got nq={nq}, nb={nb}")
        check_k(k, nb - 1, what="other base vectors (self excluded)")
    else:
        check_k(k, nb)
    kk = k + 1 if exclude_self else k
    keep_max = metric != "l2"
    fm = faiss_metric(metric)
    base_rows, query_rows = block_rows(nq, nb, d, block_bytes)
    n_threads = max(1, faiss.omp_get_max_threads())
    bar = progress_bar(total=-(-nq // query_rows) * -(-nb // base_rows), desc="exact k-NN", unit="block",
                       disable=not verbose)

    def knn(q, a, b, blk=None):
        """One faiss call, single-threaded (the caller's threads run several at once)."""
        with limit_threads(faiss=1):
            if blk is None:
                blk = _block(xb, a, b, "xb", metric)
                release_pages(xb)
            D, I = faiss.knn(q, blk, min(kk, b - a), metric=fm)
        I += a
        bar.update()
        return D, I

    D_out = np.empty((nq, kk), dtype=np.float32)
    I_out = np.empty((nq, kk), dtype=np.int64)
    if base_rows >= nb:  # one base block: the query blocks run in parallel, no heap
        xb_blk = _block(xb, 0, nb, "xb", metric)
        spans = [(qa, min(qa + query_rows, nq)) for qa in range(0, nq, query_rows)]
        task = lambda span: knn(_block(xq, span[0], span[1], "xq", metric), 0, nb, xb_blk)  # noqa: E731
        for (qa, qb), (D, I) in zip(spans, _ordered_map(task, spans, n_threads)):
            D_out[qa:qb], I_out[qa:qb] = D, I
    else:  # the base blocks of each query block run in parallel, merged in order in a heap
        spans = [(a, min(a + base_rows, nb)) for a in range(0, nb, base_rows)]
        for qa in range(0, nq, query_rows):
            qb = min(qa + query_rows, nq)
            q = _block(xq, qa, qb, "xq", metric)
            heap = faiss.ResultHeap(qb - qa, kk, keep_max=keep_max)
            for D, I in _ordered_map(lambda span: knn(q, *span), spans, n_threads):
                heap.add_result(D, I)
            heap.finalize()
            D_out[qa:qb], I_out[qa:qb] = heap.D, heap.I
    bar.close()
    if exclude_self:
        D_out, I_out = _drop_self(D_out, I_out, k)
    return D_out, I_out


def block_rows(nq, nb, d, block_bytes=DEFAULT_BLOCK_BYTES):
    """Rows per base block and per query block of :func:`knn_search`.

    A base block holds at most ``block_bytes`` of float32 and at most ``max(MIN_BLOCK_ROWS,
    nb / SPLIT)`` rows, so that a base of more than ``MIN_BLOCK_ROWS`` rows gives every core a
    block. When the whole base is one block the queries are cut the same way instead. Depends on the shapes
    and ``block_bytes`` only, never on the number of threads.

    Returns
    -------
    base_rows, query_rows : int
    """
    by_bytes = max(1, int(block_bytes) // (4 * int(d)))
    base_rows = min(by_bytes, max(MIN_BLOCK_ROWS, -(-int(nb) // SPLIT)))
    query_rows = by_bytes
    if base_rows >= nb:
        query_rows = min(by_bytes, max(MIN_BLOCK_ROWS, -(-int(nq) // SPLIT)))
    return max(1, base_rows), max(1, query_rows)


def _ordered_map(fn, items, n_threads):
    """``fn(item)`` for every item, yielded in order, computed on ``n_threads`` threads.

    At most ``2 * n_threads`` items are in flight ahead of the one consumed (bounded memory).
    One thread or one item: a plain loop in the calling thread.
    """
    if n_threads <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="knn") as pool:
        it = iter(items)
        pending = collections.deque(pool.submit(fn, x) for x in itertools.islice(it, 2 * n_threads))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(fn, x) for x in itertools.islice(it, 1))
            yield result


def release_pages(x):
    """Unmap the resident pages of a memory-mapped array (they stay in the OS page cache).

    Without this, every block read through a memmap stays counted in the process's RSS until
    the end, and a scan of a 100 GB file would look like a 100 GB process. Call it after each
    block of a pass over a memory map; a no-op for arrays in memory.
    """
    while x is not None:
        mm = getattr(x, "_mmap", None)
        if isinstance(mm, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)
            return
        x = getattr(x, "base", None)


def _drop_self(D, I, k):
    """Remove each row's own id from its (k+1)-list; if absent, keep the first k."""
    nq = I.shape[0]
    is_self = I == np.arange(nq)[:, None]
    # rows where self is absent: drop the last column instead
    absent = ~is_self.any(axis=1)
    is_self[absent, -1] = True
    # only the first occurrence counts (ids are unique per row, so at most one)
    keep = ~is_self
    return D[keep].reshape(nq, k), I[keep].reshape(nq, k)


def pair_distances(xq, xb, I, metric="l2", *, query_rows=1024):
    """The distances :func:`knn_search` reports between each query and the base rows ``I`` names.

    Gives ground truth that comes as ids only (a dataset's ``gt``) the distances that make
    :func:`~rae_explore.neighbors.metrics.top_k_accuracy` tie-aware. Exact duplicates of a base
    row get bit-identical values.

    Parameters
    ----------
    xq : array-like, shape (nq, d)
    xb : array-like, shape (nb, d)
        May be memory-mapped: only the rows ``I`` names are read, ``query_rows`` queries at a time.
    I : int array, shape (nq, k)
        Base ids; ``-1`` (faiss's "no result") gives ``inf`` (l2) or ``-inf`` (ip, cosine).
    metric : {"l2", "ip", "cosine"}

    Returns
    -------
    D : ndarray, float32, shape (nq, k)
        Squared L2 distances, or inner products / cosine similarities.
    """
    check_metric(metric)
    check_same_dim(xq, xb)
    I = np.asarray(I)
    if I.ndim != 2 or I.shape[0] != xq.shape[0]:
        raise ValueError(f"I must have shape (nq={xq.shape[0]}, k), got {I.shape}")
    D = np.empty(I.shape, dtype=np.float32)
    for a in range(0, I.shape[0], query_rows):
        b = min(a + query_rows, I.shape[0])
        ids = I[a:b]
        q = _block(xq, a, b, "xq", metric)
        flat = np.where(ids >= 0, ids, 0).ravel()
        uniq, inv = np.unique(flat, return_inverse=True)
        rows = for_metric(np.asarray(xb[uniq], dtype=np.float32), metric, "xb")[inv].reshape(ids.shape + (-1,))
        if metric == "l2":
            diff = rows - q[:, None, :]
            d = np.einsum("qkd,qkd->qk", diff, diff)
        else:
            d = np.einsum("qkd,qd->qk", rows, q)
        D[a:b] = np.where(ids >= 0, d, np.inf if metric == "l2" else -np.inf)
        release_pages(xb)
    return D


def ground_truth(xq, xb, k, metric="l2", **kwargs):
    """Ids of the exact ``k`` nearest neighbours of ``xq`` in ``xb``: ``knn_search(...)[1]``.

    Returns
    -------
    gt : ndarray, int64, shape (nq, k)
    """
    return knn_search(xq, xb, k, metric, **kwargs)[1]
