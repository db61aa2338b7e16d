"""Executors for task grids: anything with ``map(fn, tasks)`` (a process pool, a Dask client, or these)."""

import logging
import time

logger = logging.getLogger(__name__)



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
