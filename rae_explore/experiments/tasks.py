"""Grids of independent tasks: one config dict in, rows out, results saved atomically and resumed.

A sweep (:func:`rae_explore.experiments.sweep.sweep`, :func:`rae_explore.experiments.pipeline_grid.run_grid`) is a list of
small, picklable config dicts and a module-level task function that turns one config into one
row (a dict) or a list of rows. :func:`run_tasks` maps the function over the configs, in this
process or through any executor with a ``map(fn, iterable)`` method (a
``concurrent.futures`` pool, a Dask client's ``get_executor()`` or its ``map``, which yields
futures), and after every finished config rewrites the results file atomically, under its lock
(:func:`rae_explore.results.write_rows`): an interrupted run keeps every finished config.
Run again with the same file, it skips the configs whose rows are there with ``status == "ok"``
and retries the failed ones.

Every row carries ``config_id`` (:func:`task_id`) and ``status`` (``"ok"`` or ``"error"``);
with ``errors="record"`` a config that raises becomes one row with ``status="error"``, the
message in ``error`` and the config's scalar entries, and the grid goes on.

Results files, by suffix: ``.jsonl`` (JSON lines, types kept), ``.csv``, ``.parquet``.
"""

import logging


from ..grid import grid_product  # noqa: F401 -- re-exported: the grid vocabulary of task configs
from ..progress import progress_bar
from ..results import check_results_path, ok_rows, config_id, params_json, read_rows, task_id, write_rows  # noqa: F401

logger = logging.getLogger(__name__)

#: What a task may raise and still be recorded as a failed config (faiss raises RuntimeError).
TASK_ERRORS = (ValueError, TypeError, RuntimeError, ImportError, MemoryError)


def error_rows(config, error):
    """The rows recorded for a config that failed: its scalar entries, ``config_id``, ``status="error"``, ``error``."""
    scalars = {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool, type(None)))} \
        if isinstance(config, dict) else {}
    return [dict(scalars, config_id=task_id(config), status="error", error=error)]


class _Task:
    """Picklable wrapper: runs ``fn(config)``; tags its rows with the config id and a status."""

    def __init__(self, fn, errors):
        self.fn, self.errors = fn, errors

    def __call__(self, config):
        cid = task_id(config)
        try:
            out = self.fn(config)
        except TASK_ERRORS as e:
            if self.errors == "raise":
                raise
            logger.warning("config %s failed: %s: %s", cid, type(e).__name__, e)
            return error_rows(config, f"{type(e).__name__}: {e}")
        rows = [out] if isinstance(out, dict) else list(out)
        return [dict(r, config_id=cid, status=r.get("status", "ok")) for r in rows]


def run_tasks(fn, configs, results_path=None, *, resume=True, errors="raise", executor=None, verbose=False,
              desc="tasks"):
    """Map a task function over configs, saving and resuming results; every row, earlier ones first.

    Parameters
    ----------
    fn : callable
        ``fn(config) -> dict or list of dict``; module-level (picklable) when an executor is used.
    configs : list of dict
        Small picklable configs; a config's id is :func:`task_id`.
    results_path : path, optional
        ``.jsonl``, ``.csv`` or ``.parquet``; rewritten atomically after every finished config,
        under the file's lock, merged with rows other writers added meanwhile
        (:func:`rae_explore.results.write_rows`).
    resume : bool
        Keep the rows already in ``results_path`` and skip configs whose rows there are ``"ok"``
        (failed configs run again, replacing their error row). False runs every config again and
        replaces its rows; rows of other configs in the file are kept (delete the file for a fresh
        one).
    errors : {"raise", "record"}
        "record": a config raising one of :data:`TASK_ERRORS` gives one ``status="error"`` row and
        the grid goes on.
    executor : object with ``map(fn, iterable)``, optional
        Default: run here, in order. Results may be values or futures (``result()`` is taken);
        an executor may also skip configs (e.g. :class:`rae_explore.experiments.executors.TimeBudget`).
        Give process pools a ``"spawn"`` context: forking a process whose OpenMP/BLAS thread pools
        have run (torch, faiss, numpy) can deadlock the children.
    verbose : bool
        tqdm progress bar over the configs still to run.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list of dict
    """
    if errors not in ("record", "raise"):
        raise ValueError(f"errors must be 'record' or 'raise', got {errors!r}")
    if results_path is not None:
        results_path = check_results_path(results_path)
    rows = read_rows(results_path) if results_path is not None and resume else []
    done = {r.get("config_id") for r in ok_rows(rows)}
    todo = [c for c in configs if task_id(c) not in done]
    rerun = {task_id(c) for c in todo}
    rows = [r for r in rows if r.get("config_id") not in rerun]  # error rows of configs run again
    if len(todo) < len(configs):
        logger.info("resuming: %d of %d configs already in %s", len(configs) - len(todo), len(configs), results_path)
    task = _Task(fn, errors)
    results = executor.map(task, todo) if executor is not None else map(task, todo)
    if verbose:
        results = progress_bar(results, total=len(todo), desc=desc, unit="config")
    for new in results:
        if not isinstance(new, list) and callable(getattr(new, "result", None)):
            new = new.result()  # a future (dask.distributed.Client.map)
        rows.extend(new)
        if results_path is not None:
            write_rows(rows, results_path)
    return rows
