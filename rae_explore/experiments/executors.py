"""Executors for task grids: anything with ``map(fn, tasks)`` (a process pool, a Dask client, or these).

- :class:`TimeBudget`: runs tasks here, in budget order, and starts none once the budget is spent.
- :class:`ChildProcess`: runs tasks one at a time in one long-lived child process, so that a task
  that kills its process (a segfault or an abort inside faiss) costs that task only: the parent
  records it and starts a fresh child for the next one. The child keeps its per-process caches
  (dataset, ground truth, fitted reducer) from task to task, so isolation costs one process start
  and one dataset load, not one per task.
"""

import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- one child process
class TaskCrashed(RuntimeError):
    """A task's process died (a signal or an exit) or ran past its time limit."""


# The child: a bare interpreter reading length-prefixed pickles ``(fn, task)`` on stdin and
# answering ``("ok", result)`` or ``("raise", exception)`` on the original stdout, which it keeps
# for itself (stray prints of a task go to stderr). It imports only what the tasks need.
_CHILD = r"""
import os, pickle, struct, sys
proto = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
inp = sys.stdin.buffer
def read():
    head = inp.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(inp.read(struct.unpack("<Q", head)[0]))
sys.path[:] = read()
while True:
    msg = read()
    if msg is None:
        break
    fn, task = msg
    try:
        reply = ("ok", fn(task))
    except BaseException as e:
        try:  # an exception the parent cannot rebuild becomes a RuntimeError with its text
            pickle.loads(pickle.dumps(e))
            reply = ("raise", e)
        except Exception:
            reply = ("raise", RuntimeError("%s: %s" % (type(e).__name__, e)))
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        data = pickle.dumps(("raise", RuntimeError("the task's result could not be sent back from the child "
                                                   "process: %s: %s" % (type(e).__name__, e))))
    proto.write(struct.pack("<Q", len(data)) + data)
    proto.flush()
"""


def describe_exit(exitcode):
    """``-11`` -> ``"signal SIGSEGV (11)"``; ``3`` -> ``"exit code 3"``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name} ({-exitcode})"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class ChildProcess:
    """An executor running tasks one by one in a long-lived child process, replaced when it dies.

    ``run_tasks(fn, configs, out, executor=ChildProcess(on_crash=...))``: each task is sent to the
    child (``fn`` and the task are pickled: ``fn`` must be importable); if the child dies while
    running it (a signal in native code, ``os._exit``) or runs past ``timeout_s``, the task's result
    is ``on_crash(task, message)`` (or :class:`TaskCrashed` is raised without ``on_crash``) and the
    next task starts in a fresh child. Exceptions raised by ``fn`` in the child are re-raised here.

    The child is a fresh interpreter (like multiprocessing's ``"spawn"``, safe after OpenMP/BLAS
    thread pools have run here, which forking is not) that imports only what the tasks need.

    Parameters
    ----------
    on_crash : callable, optional
        ``on_crash(task, message) -> result`` for a task whose process died.
    timeout_s : float, optional
        Kill the child and count the task as crashed after this many seconds (None: no limit).

    Attributes
    ----------
    crashes : int
        Children that died so far; ``starts`` children started.
    """

    def __init__(self, on_crash=None, *, timeout_s=None):
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 or None, got {timeout_s!r}")
        self.on_crash, self.timeout_s = on_crash, timeout_s
        self._proc = None
        self.crashes = self.starts = 0

    def _start(self):
        self._proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._send(list(sys.path))
        self.starts += 1

    def _send(self, obj):
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.write(struct.pack("<Q", len(data)) + data)
        self._proc.stdin.flush()

    def _read(self, n, deadline):
        """``n`` bytes from the child; None on EOF (it died) or past ``deadline``."""
        fd, buf = self._proc.stdout.fileno(), b""
        while len(buf) < n:
            wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _kill(self):
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            for f in (self._proc.stdin, self._proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        self._proc = None

    def close(self):
        """Stop the child (closing its input ends it)."""
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def submit(self, fn, task):
        """Run ``fn(task)`` in the child and return its result (or ``on_crash``'s)."""
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            self._start()
        t0 = time.perf_counter()
        deadline = None if self.timeout_s is None else t0 + self.timeout_s
        reply = None
        try:
            self._send((fn, task))
            head = self._read(8, deadline)
            body = None if head is None else self._read(struct.unpack("<Q", head)[0], None)
            reply = None if body is None else pickle.loads(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if reply is None:
            timed_out = deadline is not None and time.perf_counter() >= deadline and self._proc.poll() is None
            if not timed_out:
                what = f"died with {describe_exit(self._proc.wait())}"
            else:
                what = f"ran past its time limit of {self.timeout_s:g} s and was stopped"
            self._kill()
            self.crashes += 1
            msg = (f"the task's process {what} after {time.perf_counter() - t0:.1f} s (a crash in native code such "
                   "as faiss: check this configuration's index string and parameters); the next task runs in a "
                   "fresh process")
            logger.warning("%s", msg)
            if self.on_crash is None:
                raise TaskCrashed(msg)
            return self.on_crash(task, msg)
        status, value = reply
        if status == "raise":
            raise value
        return value

    def map(self, fn, tasks):
        """Yield ``fn(task)`` for each task, in order, each run in the child process."""
        try:
            for task in tasks:
                yield self.submit(fn, task)
        finally:
            self.close()


# --------------------------------------------------------------------------- time budget
class TimeBudget:
    """An executor for :func:`rae_explore.experiments.sweep.sweep` that stops starting tasks after a time budget.

    ``sweep(..., executor=TimeBudget(120))`` runs the configurations in this process, the small
    dimensions of every method first (so a cut-off loses the expensive end of every curve, not
    whole methods), and starts no new configuration once ``seconds`` have elapsed. What was
    skipped is kept in :attr:`skipped` and said by :meth:`summary`; nothing is dropped silently.

    Parameters
    ----------
    seconds : float or None
        Budget in seconds; None runs everything.
    key : callable, optional
        Sort key of the tasks; default: their ``n_components`` (stable, so method order is kept).
    progress : callable, optional
        Called as ``progress(done, total)`` after each task (the widgets' progress bar).
    clock : callable
        Returns seconds (``time.perf_counter``; tests pass a fake one).

    Attributes
    ----------
    done, total : int
    elapsed_s : float
    skipped : list
        The tasks not started.
    """

    def __init__(self, seconds=None, *, key=None, progress=None, clock=time.perf_counter):
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds must be > 0 or None, got {seconds!r}")
        self.seconds = seconds
        self.key = key
        self.progress = progress
        self.clock = clock
        self.done = self.total = 0
        self.elapsed_s = 0.0
        self.skipped = []

    def _default_key(self, task):
        return task.get("n_components", 0) if isinstance(task, dict) else 0

    def map(self, fn, tasks):
        """Yield ``fn(task)`` for the tasks, in budget order, until the budget is spent."""
        tasks = sorted(tasks, key=self.key or self._default_key)
        self.total, self.done, self.skipped = len(tasks), 0, []
        t0 = self.clock()
        for i, task in enumerate(tasks):
            self.elapsed_s = self.clock() - t0
            if self.seconds is not None and self.elapsed_s > self.seconds:
                self.skipped = tasks[i:]
                logger.warning("time budget of %.0f s spent after %d of %d tasks; %d skipped",
                               self.seconds, i, len(tasks), len(self.skipped))
                return
            yield fn(task)
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
        self.elapsed_s = self.clock() - t0

    def summary(self):
        """One sentence: how many tasks ran, in how long, and which were skipped."""
        s = f"ran {self.done} of {self.total} configurations in {self.elapsed_s:.0f} s"
        if self.seconds is not None:
            s += f" (budget {self.seconds:.0f} s)"
        if self.skipped:
            names = ", ".join(f"{t.get('method', '?')}@{t.get('n_components', '?')}" if isinstance(t, dict) else str(t)
                              for t in self.skipped)
            s += f"; skipped for lack of time: {names}. Raise time_budget_s to run them."
        return s
