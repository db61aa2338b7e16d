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


def _search_shard(spec):
    """Exact k-NN of the queries in rows ``[start, stop)`` of a base file; ids are global."""
    from ..data.formats import load_vectors
    from ..neighbors.knn import knn_search

    path, start, stop, xq, k, metric = spec
    xb = load_vectors(path)[start:stop]
    D, I = knn_search(xq, xb, min(k, stop - start), metric)
    return D, I + start


def distributed_ground_truth(xq, base_path, k, metric="l2", *, client=None, shards=None):
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

    Returns
    -------
    D : float32 (nq, k), I : int64 (nq, k)
        As :func:`rae_explore.neighbors.knn.knn_search` returns them for the whole base.
    """
    import faiss
    import numpy as np

    from ..data.formats import load_vectors

    xq = np.ascontiguousarray(xq, dtype=np.float32)
    nb = load_vectors(base_path).shape[0]
    check_k(k, nb)
    if shards is None:
        shards = 1 if client is None else 2 * max(1, len(client.scheduler_info().get("workers", {})))
    shards = min(check_positive_int(shards, "shards"), nb)
    bounds = np.linspace(0, nb, shards + 1).astype(int)
    specs = [(str(base_path), int(a), int(b), xq, int(k), metric) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
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
