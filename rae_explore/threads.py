"""Thread counts of torch, faiss and BLAS: one context manager for all of them.

On a 2-core machine shared with other jobs, multi-threaded code whose threads spin-wait for a
descheduled peer runs many times slower than single-threaded code (measured: an exact faiss
search 2-4x slower with 2 threads than 1 on 2 busy cores; a 600 x 64 SVD in OpenBLAS 1.8 s
instead of 1.5 ms; a small torch step 4.5 ms instead of 0.5 ms). Code that knows its work is
small asks for one thread; code that scales asks for ``"idle"``, the cores other processes
leave free. Every setting is restored when the block ends.

>>> with limit_threads(torch=1, faiss="idle", blas=1):  # doctest: +SKIP
...     ...
"""

import contextlib
import os
import time

from .validation import check_int

#: Environment variables that size the OpenMP / BLAS pools of a process started later.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_IDLE_CHOICE = {"t": -1e9, "n": None}


def _resolve(n, current):
    if n == "idle":
        return idle_threads(current)
    return check_int(n, "a thread count", low=1, what="a positive integer, 'idle' or None")


@contextlib.contextmanager
def limit_threads(*, torch=None, faiss=None, blas=None):
    """Run the block with the given thread counts, then restore the previous ones.

    Parameters
    ----------
    torch, faiss, blas : int, "idle" or None
        torch's intra-op threads, faiss's OpenMP threads, and the BLAS pools of numpy and scipy
        (through threadpoolctl; faiss's own BLAS is left alone). ``"idle"``: as many as there
        are idle cores now (:func:`idle_threads`). None: unchanged (nothing is imported).

    Yields
    ------
    dict
        The counts in effect inside the block, by library (only those set).
    """
    in_effect = {}
    with contextlib.ExitStack() as stack:
        if torch is not None:
            import torch as _torch

            old_t = _torch.get_num_threads()
            n = _resolve(torch, old_t)
            if n != old_t:
                _torch.set_num_threads(n)
                stack.callback(lambda: _torch.get_num_threads() != old_t and _torch.set_num_threads(old_t))
            in_effect["torch"] = n
        if faiss is not None:
            import faiss as _faiss

            old_f = _faiss.omp_get_max_threads()
            n = _resolve(faiss, old_f)
            _faiss.omp_set_num_threads(n)
            stack.callback(_faiss.omp_set_num_threads, old_f)
            in_effect["faiss"] = n
        if blas is not None:
            n = _resolve(blas, os.cpu_count() or 1)
            stack.enter_context(_blas_limit(n))
            in_effect["blas"] = n
        yield in_effect


@contextlib.contextmanager
def _blas_limit(n):
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        yield
        return
    limits = {i["prefix"]: n for i in threadpool_info()
              if i.get("user_api") == "blas" and "faiss" not in i.get("filepath", "")}
    if not limits:
        yield
        return
    with threadpool_limits(limits=limits):
        yield


def idle_threads(n_max):
    """How many of ``n_max`` threads to use now: the idle cores (at least 1), sampled at most every 30 s."""
    now = time.monotonic()
    if now - _IDLE_CHOICE["t"] > 30 or _IDLE_CHOICE["n"] is None:
        _IDLE_CHOICE.update(t=now, n=idle_cores(os.cpu_count() or n_max))
    return max(1, min(int(n_max), _IDLE_CHOICE["n"]))


def idle_cores(n_all, interval=0.1):
    """Cores (1..n_all) left idle by other processes, from two /proc/stat samples; n_all if unknown."""

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v[:8])  # idle + iowait, total (without guest time)

    try:
        i0, t0 = sample()
        time.sleep(interval)
        i1, t1 = sample()
    except (OSError, ValueError, IndexError):
        return n_all
    if t1 <= t0:
        return n_all
    ncpu = os.cpu_count() or n_all
    busy = (1 - (i1 - i0) / (t1 - t0)) * ncpu  # cores used by others (this process was asleep)
    return int(max(1, min(n_all, round(ncpu - busy))))


def share_cores(jobs):
    """In a worker of ``jobs`` parallel processes: size the thread pools of the processes it starts.

    Sets :data:`THREAD_ENV_VARS` to ``cpu_count // jobs`` (at least 1) for child processes (the
    notebook kernels of a parallel batch inherit them); a variable the user set is left alone.
    """
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in THREAD_ENV_VARS:
        os.environ.setdefault(var, n)
