"""Grids on Dask: a local cluster of processes or an existing scheduler, results written by the client.

Every grid of the package (:func:`~rae_explore.experiments.sweep.sweep`,
:func:`~rae_explore.experiments.pipeline_grid.run_grid`, the intrinsic-dimension table) is a list
of small picklable configs mapped through :func:`~rae_explore.experiments.tasks.run_tasks`, which
accepts any executor with ``map(fn, configs)``. :class:`DaskExecutor` is that executor for a
``dask.distributed.Client``:

- every config is submitted at once (``client.map``, ``pure=False``) and results are yielded **as
  they finish** (``as_completed``), so the client writes each row the moment it exists and a slow
  first task does not hold back the others;
- workers receive configs (dataset names, file paths), never arrays: a worker loads its dataset
  itself (memory-mapped when the file is large) and keeps it for the next config;
- a worker that dies mid-task is replaced by its nanny and the task is retried by the scheduler
  (``distributed.scheduler.allowed-failures``, 3 by default); the row appears once because the
  client writes it, not the worker;
- a task that raises becomes an error row (as in a local run); only the client writes the results
  file, atomically, so killing the client loses nothing finished and a rerun resumes.

:func:`dask_client` starts what the command line asks for: ``workers=N`` a ``LocalCluster`` of N
single-threaded worker processes, ``scheduler=ADDRESS`` a connection to a running cluster; it
prints the dashboard address.

:func:`distributed_ground_truth` splits an exact k-NN search over a base *file* into row shards:
each worker memory-maps its rows and searches them, and the client merges the shards' lists
with faiss's ``ResultHeap``: the ids equal a single-machine search.

:func:`distributed_moments` is the same reduction for the one-pass fits: each worker memory-maps
its row range and returns a :class:`~rae_explore.reducers.moments.Moments` (``O(d^2)`` floats),
the client merges them in shard order (exact, :meth:`~rae_explore.reducers.moments.Moments.merge`)
and PCA or closed-form RAE are fitted from the result (``fit_from_moments``).
:func:`file_rows` finds which file and rows a memory map shows, so that
:func:`~rae_explore.experiments.evaluate.evaluate` given a client can send workers a path and a
row range instead of the array.
"""

import contextlib
import logging

from ..validation import check_k, check_positive_int

logger = logging.getLogger(__name__)


class DaskExecutor:
    """``map(fn, configs)`` over a ``dask.distributed.Client``, yielding results as they finish.

    Parameters
    ----------
    client : dask.distributed.Client
    retries : int
        Extra attempts for a task whose worker raised an exception that is not recorded as an
        error row (a task lost with its worker is retried by the scheduler regardless).
    on_crash : {"record", "raise"}
        A task that kills its worker every time it runs (a segfault in faiss, say: dask gives up
        after ``distributed.scheduler.allowed-failures`` deaths and raises ``KilledWorker``):
        "record" yields one ``status="error"`` row for its config (its scalar entries,
        ``config_id``, ``error="TaskCrashed: ..."``) and the grid goes on; "raise" re-raises.
    """

    def __init__(self, client, *, retries=0, on_crash="record"):
        if on_crash not in ("record", "raise"):
            raise ValueError(f"on_crash must be 'record' or 'raise', got {on_crash!r}")
        self.client = client
        self.retries = retries
        self.on_crash = on_crash

    def map(self, fn, configs):
        """Yield ``fn(config)`` for every config, in order of completion."""
        from dask.distributed import as_completed
        from distributed.scheduler import KilledWorker

        from .pipeline_grid import crash_rows

        configs = list(configs)
        if not configs:
            return
        futures = self.client.map(fn, configs, pure=False, retries=self.retries)
        config_of = {f.key: c for f, c in zip(futures, configs)}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except KilledWorker as exc:
                    if self.on_crash == "raise":
                        raise
                    first = str(exc).split(". ")[0]
                    yield crash_rows(config_of[future.key], f"the task killed its worker process every time it ran "
                                                           f"({type(exc).__name__}: {first})")
        finally:  # an interrupted client cancels what it no longer waits for
            pending = [f for f in futures if not f.done()]
            if pending:
                self.client.cancel(pending)


@contextlib.contextmanager
def dask_client(workers=None, scheduler=None, *, threads_per_worker=1, quiet=False):
    """A ``dask.distributed.Client`` for ``workers`` local processes or an existing ``scheduler``.

    Parameters
    ----------
    workers : int, optional
        Start a ``LocalCluster`` of this many worker processes (closed on exit).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); its workers must have rae_explore
        and the data installed.
    threads_per_worker : int
        Threads of each local worker (1: the task's faiss/torch/BLAS run one thread per process;
        dask's nanny sets ``OMP_NUM_THREADS=1`` and friends in each worker).
    quiet : bool
        Do not print the dashboard address.

    Yields
    ------
    Client, or None when neither ``workers`` nor ``scheduler`` is given (run in this process).
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give either workers (start a local cluster) or scheduler (use a running one), not both")
    if workers is None and scheduler is None:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConnectionError(f"no Dask scheduler answers at {scheduler!r} ({exc}); start one with "
                                  "`dask scheduler` and workers with `dask worker ADDRESS`, or use --workers N "
                                  "for a local cluster") from None
        cluster = None
    else:
        workers = check_positive_int(workers, "workers")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    if not quiet:
        print(f"Dask: {len(client.scheduler_info().get('workers', {}))} worker(s); dashboard: "
              f"{client.dashboard_link}", flush=True)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def executor_for(client):
    """The :func:`~rae_explore.experiments.tasks.run_tasks` executor for ``client`` (None: this process)."""
    return None if client is None else DaskExecutor(client)


def _map_address(x):
    """Byte position in its file of ``x``'s first element, or None if ``x`` is not a view of a file mapping."""
    import mmap

    import numpy as np

    top, cur = None, x
    while cur is not None and not isinstance(cur, mmap.mmap):
        top, cur = cur, getattr(cur, "base", None)
    if cur is None or not isinstance(top, np.memmap) or x.size == 0:
        return None
    start = np.frombuffer(cur, dtype=np.uint8).ctypes.data
    offset = int(getattr(top, "offset", 0) or 0)
    return x.ctypes.data - start + offset - offset % mmap.ALLOCATIONGRANULARITY


def file_rows(x):
    """``(path, start, stop)`` if ``x`` is rows ``[start, stop)`` of a vector file's memory map, else None.

    Parameters
    ----------
    x : array
        E.g. :func:`rae_explore.data.formats.load_vectors` ``(path)[a:b]`` (``.npy``, ``.fvecs``,
        ``.bvecs``...). Anything else (an array in memory, a column slice, a strided or
        reordered view, another layout) gives None.

    Returns
    -------
    tuple (str, int, int) or None
    """
    import numpy as np

    from ..data.formats import load_vectors

    filename = getattr(x, "filename", None)
    if not isinstance(x, np.memmap) or filename is None or x.ndim != 2:
        return None
    try:
        full = load_vectors(filename)
    except (OSError, ValueError):
        return None
    pos, origin = _map_address(x), _map_address(full)
    if (pos is None or origin is None or full.dtype != x.dtype or full.shape[1] != x.shape[1]
            or full.strides != x.strides or (pos - origin) % full.strides[0]):
        return None
    start = (pos - origin) // full.strides[0]
    if not 0 <= start <= full.shape[0] - x.shape[0]:
        return None
    return str(filename), int(start), int(start + x.shape[0])


def _bounds(start, stop, shards):
    import numpy as np

    edges = np.linspace(start, stop, min(shards, stop - start) + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _rows(base_path, rows):
    """``(start, stop)`` of the base rows to use, checked against the file's row count."""
    from ..data.formats import load_vectors

    nb = load_vectors(base_path).shape[0]
    if rows is None:
        return 0, nb
    start, stop = (int(r) for r in rows)
    if not 0 <= start < stop <= nb:
        raise ValueError(f"rows must be (start, stop) with 0 <= start < stop <= {nb} (the rows of {base_path}), "
                         f"got {rows!r}")
    return start, stop


def _n_shards(client, shards):
    if shards is None:
        return 1 if client is None else 2 * max(1, len(client.scheduler_info().get("workers", {})))
    return check_positive_int(shards, "shards")


def _search_shard(spec):
    """Exact k-NN of the queries in rows ``[start, stop)`` of a base file; ids count from ``origin``."""
    from ..data.formats import load_vectors
    from ..neighbors.knn import knn_search

    path, start, stop, origin, xq, k, metric = spec
    xb = load_vectors(path)[start:stop]
    D, I = knn_search(xq, xb, min(k, stop - start), metric)
    return D, I + (start - origin)


def distributed_ground_truth(xq, base_path, k, metric="l2", *, client=None, shards=None, rows=None):
    """Exact ``k``-NN of ``xq`` in the base stored at ``base_path``, searched shard by shard.

    Parameters
    ----------
    xq : ndarray, shape (nq, d)
        Queries (sent to every worker: keep them to a few hundred MB at most).
    base_path : path
        ``.npy``, ``.fvecs``, ``.bvecs``...: every worker memory-maps its own rows, so the base
        never travels through the scheduler.
    k : int
    metric : {"l2", "ip", "cosine"}
    client : dask.distributed.Client, optional
        Default: the shards run one after the other in this process.
    shards : int, optional
        Default: twice the number of workers (1 without a client).
    rows : (int, int), optional
        Search only the file's rows ``[start, stop)`` (ids then count from ``start``, as in
        ``load_vectors(base_path)[start:stop]``); default all.

    Returns
    -------
    D : float32 (nq, k), I : int64 (nq, k)
        As :func:`rae_explore.neighbors.knn.knn_search` returns them for that base.
    """
    import faiss
    import numpy as np

    xq = np.ascontiguousarray(xq, dtype=np.float32)
    start, stop = _rows(base_path, rows)
    check_k(k, stop - start)
    specs = [(str(base_path), a, b, start, xq, int(k), metric) for a, b in _bounds(start, stop, _n_shards(client, shards))]
    heap = faiss.ResultHeap(xq.shape[0], int(k), keep_max=metric != "l2")
    if client is None:
        parts = map(_search_shard, specs)
    else:
        from dask.distributed import as_completed

        parts = (f.result() for f in as_completed(client.map(_search_shard, specs, pure=False)))
    for D, I in parts:
        heap.add_result(D, I)
    heap.finalize()
    return heap.D, heap.I


def _shard_moments(spec):
    """:class:`~rae_explore.reducers.moments.Moments` of rows ``[start, stop)`` of a base file."""
    from ..data.formats import load_vectors
    from ..reducers.moments import moments

    path, start, stop, block_rows, preprocess = spec
    return moments(load_vectors(path)[start:stop], block_rows, preprocess=preprocess, offset=start)


def distributed_moments(base_path, *, client=None, rows=None, shards=None, block_rows=65536, preprocess=None):
    """Count, mean and scatter of a base file's rows, each worker reading its own row range.

    Parameters
    ----------
    base_path : path
        ``.npy``, ``.fvecs``, ``.bvecs``...; workers receive the path and their rows, never data.
    client : dask.distributed.Client, optional
        Default: the shards run one after the other in this process.
    rows : (int, int), optional
        Only the file's rows ``[start, stop)``; default all.
    shards : int, optional
        Default: twice the number of workers (1 without a client).
    block_rows : int
        Rows per block inside a shard (memory per worker: about ``block_rows * d * 16`` bytes).
    preprocess : callable, optional
        Applied to every float32 block on the workers (a reducer's ``preprocess``; picklable).

    Returns
    -------
    Moments
        Merged in shard order, so the result does not depend on which worker finished first;
        equal to :func:`~rae_explore.reducers.moments.moments` over the same rows up to float
        rounding. Fit a reducer with ``fit_from_moments``.

    Examples
    --------
    >>> mom = distributed_moments("base.bvecs", client=client)            # doctest: +SKIP
    >>> pca = PCA(32).fit_from_moments(mom)                                # doctest: +SKIP
    """
    from ..reducers.moments import Moments

    start, stop = _rows(base_path, rows)
    block_rows = check_positive_int(block_rows, "block_rows")
    specs = [(str(base_path), a, b, block_rows, preprocess) for a, b in _bounds(start, stop, _n_shards(client, shards))]
    if client is None:
        parts = [_shard_moments(spec) for spec in specs]
    else:
        parts = client.gather(client.map(_shard_moments, specs, pure=False))
    total = Moments(parts[0].d)
    for part in parts:
        total.merge(part)
    return total
