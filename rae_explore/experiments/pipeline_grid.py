"""Grids of index pipelines: reducers x dims x indexes as picklable configs, one task per config.

:func:`pipeline_configs` turns reducers x dims x indexes into plain config dicts;
:func:`run_pipeline_config` maps one config to its rows (a picklable, independent task that can be
mapped on Dask); :func:`run_grid` runs them through :func:`rae_explore.experiments.tasks.run_tasks`,
which rewrites the results file atomically after each task and skips finished configs on resume.

Hostile configurations: :func:`pipeline_configs` checks every index string and search parameter
(:mod:`rae_explore.index.validate`) before anything runs, and :func:`run_grid` runs the configs in
a child process by default (:class:`rae_explore.experiments.executors.ChildProcess`), so that a
crash inside faiss becomes one error row and the grid goes on.
"""

import functools
import json
import warnings

from ..index.lattice import evaluate_lattice, lattice_bits
from ..index.measure import PAPER_RECALLS, evaluate_pipeline, needed_k, sweep_pipeline
from ..index.pipeline import fit_reduction
from ..index.validate import check_index_factory, check_search_params
from ..results import check_results_file
from ..validation import as_float32, check_int
from .cache import cached_dataset
from .executors import ChildProcess
from .tasks import error_rows, run_tasks, task_id


# --------------------------------------------------------------------------- grids of tasks
def _resolve_dim(dim, d):
    """An int is a dimension; a float in (0, 1] is a fraction of ``d`` (0.5 -> d // 2)."""
    if isinstance(dim, float):
        if not 0 < dim <= 1:
            raise ValueError(f"a float dimension is a fraction of d and must be in (0, 1], got {dim}")
        return max(1, int(d * dim))
    return check_int(dim, "dims entries", low=1, what="positive ints or fractions in (0, 1]")


def pipeline_configs(dataset, reducers=(None,), dims=(), indexes=("Flat",), *, dataset_params=None,
                     reducer_params=None, search_params=None, sweep=None, rerank_k=None, recalls=PAPER_RECALLS,
                     n_threads=1, random_state=0, n_single=100):
    """Plain config dicts for reducers x dims x indexes (reducer None: one config per index, no dims).

    Parameters
    ----------
    dataset : str
        A registered dataset name (tasks load it themselves, so configs stay small and picklable).
    reducers : sequence of str or None
    dims : sequence of int or float
        Reduced dimensions; floats in (0, 1] are fractions of the dataset's ``d``, resolved in
        the task (``0.5`` -> ``d // 2``).
    indexes : sequence of str
        faiss ``index_factory`` strings, or ``"Lattice{b}"``: the reduced vectors L2-normalised and
        coded on a Zn lattice of ``b`` bits (:mod:`rae_explore.index.lattice`, the Catalyzer's
        pairing; no search parameters, sweep or re-ranking apply to it).
    dataset_params : dict, optional
        Passed to :func:`rae_explore.data.datasets.load_dataset` (``seed``, ``n_samples``, ...).
    reducer_params : dict, optional
        ``{reducer_name: {param: value}}``.
    search_params, sweep, rerank_k, recalls, n_threads, random_state, n_single
        As :func:`evaluate_pipeline` / :func:`sweep_pipeline`; a ``sweep`` makes each task a sweep.

    Returns
    -------
    list of dict

    Raises
    ------
    TypeError, ValueError
        An index string or search parameter out of range (checked here, before any work:
        :func:`rae_explore.index.validate.check_index_factory`, ``check_search_params``).
    """
    if isinstance(reducers, str) or reducers is None:
        reducers = [reducers]
    if isinstance(indexes, str):
        indexes = [indexes]
    for ix in indexes:
        if lattice_bits(ix) is None:
            check_index_factory(ix)
    search_params = check_search_params(search_params) or None
    if isinstance(sweep, dict):
        for name, values in sweep.items():
            for v in (values if isinstance(values, (list, tuple)) else [values]):
                check_search_params({name: v}, where="sweep")
    elif sweep is not None and sweep != "auto":
        raise ValueError(f"sweep must be None, 'auto' or a dict {{name: [values]}}, got {sweep!r}")
    if isinstance(dims, (int, float)):
        dims = [dims]
    reducer_params = reducer_params or {}
    configs = []
    for red in reducers:
        red = None if red is None or str(red).lower() == "none" else str(red).lower()
        if red is not None and not dims:
            raise ValueError(f"reducer {red!r} needs at least one entry in dims")
        for dim in ([None] if red is None else dims):
            for ix in indexes:
                configs.append({
                    "dataset": dataset, "dataset_params": dict(dataset_params or {}), "reducer": red,
                    "reducer_params": dict(reducer_params.get(red, {})) if red else {}, "n_components": dim,
                    "index": ix, "search_params": search_params, "sweep": sweep, "rerank_k": rerank_k,
                    "recalls": [list(r) for r in recalls], "n_threads": n_threads, "random_state": random_state,
                    "n_single": n_single,
                })
    return configs


@functools.lru_cache(maxsize=4)
def _cached_reduction(name, params_json, k_gt, reducer, n_components, reducer_params_json, random_state):
    ds = cached_dataset(name, json.loads(params_json), k_gt=k_gt)
    xb, xt = as_float32(ds.xb, "xb"), None if ds.xt is None else as_float32(ds.xt, "xt")
    return fit_reduction(xb, xt, reducer, n_components, json.loads(reducer_params_json), random_state, ds.metric)


def run_pipeline_config(config):
    """Run one config from :func:`pipeline_configs`: its rows (one per search setting; one without a sweep).

    An independent, picklable task (plain dict in, list of plain dicts out): the dataset, its
    ground truth and the fitted reducer are cached per process, so consecutive tasks on the
    same reducer and dimension fit it once (``reducer_fit_time_s`` is the time of that fit).
    """
    cfg = dict(config)
    recalls, _, _ = needed_k(cfg.get("recalls", PAPER_RECALLS))
    k_gt = max(max(n for n, _ in recalls), max(m for _, m in recalls))
    params_json = json.dumps(cfg.get("dataset_params") or {}, sort_keys=True)
    ds = cached_dataset(cfg["dataset"], cfg.get("dataset_params"), k_gt=k_gt)
    reducer = cfg.get("reducer")
    n_comp = None if reducer is None else _resolve_dim(cfg.get("n_components"), ds.d)
    red = _cached_reduction(cfg["dataset"], params_json, k_gt, reducer, n_comp,
                            json.dumps(cfg.get("reducer_params") or {}, sort_keys=True), cfg.get("random_state", 0))
    common = dict(rerank_k=cfg.get("rerank_k"), recalls=recalls, n_threads=cfg.get("n_threads", 1),
                  random_state=cfg.get("random_state", 0), n_single=cfg.get("n_single", 100))
    bits = lattice_bits(cfg["index"])
    if bits is not None:
        rows = [evaluate_lattice(ds, bits, red, recalls=recalls, n_threads=common["n_threads"],
                                 random_state=common["random_state"], n_single=common["n_single"])]
    elif cfg.get("sweep"):
        rows = sweep_pipeline(ds, cfg["index"], red, sweep=cfg["sweep"], **common)
    else:
        rows = [evaluate_pipeline(ds, cfg["index"], red, search_params=cfg.get("search_params"), **common)]
    cid = task_id(config)
    return [dict(r, config_id=cid, status="ok") for r in rows]


def crash_rows(config, message):
    """The row recorded for a config whose process died: its scalar entries, ``status="error"``, the message."""
    return error_rows(config, f"TaskCrashed: {message}")


def run_grid(configs, out, *, resume=True, errors="record", executor=None, isolate=True, timeout_s=None,
             verbose=False):
    """Run configs with :func:`run_pipeline_config`, rewriting ``out`` (JSON lines) atomically after each one.

    Parameters
    ----------
    configs : list of dict
        From :func:`pipeline_configs`.
    out : path
        Results file (``.jsonl``; ``.csv`` and ``.parquet`` work too). Written through
        :func:`rae_explore.atomic.atomic_write`, so an interrupted run leaves the last complete
        version.
    resume : bool
        Skip configs whose rows (status "ok") are already in ``out``; failed ones are retried.
    errors : {"record", "raise"}
        "record" writes one row with ``status="error"`` and the message, then continues.
    executor : object with ``map(fn, iterable)``, optional
        A process pool (``"spawn"`` context) or a Dask client's executor; default: ``isolate`` decides.
    isolate : bool
        Without an executor: run the configs one by one in a long-lived child process (default),
        replaced when it dies, so that a crash in faiss (a segfault, an abort) becomes an error
        row (``errors="record"``) or a :class:`~rae_explore.experiments.executors.TaskCrashed`
        (``errors="raise"``) and the grid goes on. False runs them in this process.
    timeout_s : float, optional
        With ``isolate``: a config running longer than this is stopped and recorded as crashed.
    verbose : bool
        tqdm progress over configs.

    Returns
    -------
    pandas.DataFrame
        All rows in ``out``.
    """
    import pandas as pd

    out = check_results_file(out, inputs=[c.get("dataset") for c in configs if isinstance(c.get("dataset"), str)],
                             required=("config_id", "status", "index"))
    if executor is None and isolate:
        executor = ChildProcess(crash_rows if errors == "record" else None, timeout_s=timeout_s)
    rows = run_tasks(run_pipeline_config, configs, out, resume=resume, errors=errors, executor=executor, verbose=verbose,
                     desc="pipelines")
    return pd.DataFrame(rows)


def expand_grid(*args, **kwargs):
    """Deprecated name of :func:`pipeline_configs` (it meant two things: notebook grids are
    :func:`rae_explore.report.batch.notebook_runs`)."""
    warnings.warn("expand_grid is deprecated; use pipeline_configs", DeprecationWarning, stacklevel=2)
    return pipeline_configs(*args, **kwargs)
