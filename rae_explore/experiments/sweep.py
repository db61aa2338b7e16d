"""Sweeps: methods x dimensions x seeds, each configuration one picklable task, resumable.

:func:`sweep` runs a grid of configurations. Each configuration is a small picklable dict and
:func:`run_config` turns one into one row, so the grid can be mapped over any executor
(``concurrent.futures``, a Dask client's ``map``...). Results are written atomically after
each row and a rerun skips the configurations already in the file
(:mod:`rae_explore.experiments.tasks`).
"""

from pathlib import Path

import numpy as np

from ..grid import grid_product
from ..results import check_results_file
from .cache import cached_dataset
from .evaluate import DEFAULT_KS, DEFAULT_RECALLS, evaluate
from .tasks import config_id, run_tasks


# ================================================================================== sweeps
def sweep_configs(methods, dims, dataset, *, ks=DEFAULT_KS, recalls=DEFAULT_RECALLS, metric=None, seeds=(0,),
                  self_eval=False, dataset_kwargs=None):
    """The grid of a :func:`sweep` as a list of small picklable configuration dicts.

    Parameters
    ----------
    methods : str, list of str, list of (name, params), or dict name -> params (or list of params)
        Which reducers, each with fixed hyperparameters. ``{"rae": [{"alpha": 0}, {"alpha": 1e-7}]}``
        gives two RAE configurations.
    dims : int or sequence of int
        Reduced dimensions (``n_components``).
    dataset : str
        A dataset name for :func:`~rae_explore.data.datasets.load_dataset` (the configuration stays
        small: workers load it themselves).
    seeds : sequence of int
        ``random_state`` of the reducer (and, unless ``dataset_kwargs`` sets it, the dataset split).

    Returns
    -------
    list of dict
        Each with ``method``, ``params``, ``n_components``, ``dataset``, ``dataset_kwargs``,
        ``ks``, ``recalls``, ``metric``, ``self_eval``, ``seed`` and ``config_id``.
    """
    from ..reducers import REDUCERS

    if isinstance(methods, str):
        methods = [methods]
    if isinstance(methods, dict):
        pairs = []
        for name, ps in methods.items():
            for p in (ps if isinstance(ps, (list, tuple)) else [ps or {}]):
                pairs.append((name, dict(p or {})))
    else:
        pairs = [(m, {}) if isinstance(m, str) else (m[0], dict(m[1] or {})) for m in methods]
    for name, _ in pairs:
        if name.lower() not in REDUCERS:
            raise ValueError(f"unknown reducer {name!r}; known reducers: {', '.join(sorted(REDUCERS))}")
    if not isinstance(dataset, (str, Path)):
        raise TypeError("sweep needs a dataset *name* (configurations must stay small and picklable); "
                        f"got {type(dataset).__name__}. Register the data or save it as .npy and pass the path.")
    dims = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    out = []
    for point in grid_product({"seed": list(seeds), "method": pairs, "n_components": dims}, label="sweep"):
        seed, (name, p), m = point["seed"], point["method"], point["n_components"]
        dk = dict(dataset_kwargs or {})
        dk.setdefault("seed", int(seed))
        cfg = {
            "method": name.lower(), "params": p, "n_components": int(m), "dataset": str(dataset),
            "dataset_kwargs": dk, "ks": [int(k) for k in ks], "recalls": [[int(a), int(b)] for a, b in recalls],
            "metric": metric, "self_eval": bool(self_eval), "seed": int(seed),
        }
        cfg["config_id"] = config_id(cfg)
        out.append(cfg)
    return out


def run_config(config):
    """Evaluate one configuration from :func:`sweep_configs`: one dict in, one row (dict) out.

    Picklable and self-contained (loads the dataset by name, cached per process), so it can be
    mapped over a process pool or a Dask cluster.
    """
    from ..reducers import REDUCERS, make_reducer

    params = dict(config["params"])
    params["n_components"] = config["n_components"]
    if "random_state" in REDUCERS[config["method"]]._get_param_names():
        params.setdefault("random_state", config["seed"])
    ks = config["ks"]
    recalls = [tuple(r) for r in config["recalls"]]
    kmax = max(list(ks) + [max(r) for r in recalls])
    ds = cached_dataset(config["dataset"], config["dataset_kwargs"], config["metric"], kmax)
    row = evaluate(make_reducer(config["method"], **params), ds, ks, recalls=recalls, self_eval=config["self_eval"])
    row["seed"] = config["seed"]
    row["config_id"] = config["config_id"]
    return row


def sweep(methods, dims, dataset, *, ks=DEFAULT_KS, recalls=DEFAULT_RECALLS, metric=None, seeds=(0,),
          self_eval=False, dataset_kwargs=None, results_path=None, executor=None, errors="raise", verbose=False):
    """Evaluate every (method, params, dimension, seed) of a grid; a DataFrame of :func:`evaluate` rows.

    Parameters
    ----------
    methods, dims, dataset, seeds, dataset_kwargs
        See :func:`sweep_configs`.
    ks, recalls, metric, self_eval
        See :func:`evaluate`.
    results_path : path, optional
        ``.csv``, ``.parquet`` or ``.jsonl`` file. Rewritten atomically after every finished row,
        under its lock (rows another sweep wrote meanwhile are kept); if it already exists,
        configurations whose ``config_id`` it holds with status "ok" are skipped (resume). Checked
        before any work: writable, not the dataset file, and, if it exists, a results file.
    executor : object with ``map(fn, iterable)``, optional
        E.g. a ``concurrent.futures.ProcessPoolExecutor`` (with a ``"spawn"`` context) or a Dask
        client's ``client.get_executor()``; default: run in this process. :func:`run_config` is
        the mapped function. See :func:`rae_explore.experiments.tasks.run_tasks`.
    errors : {"raise", "record"}
        "record" turns a configuration that fails into a row with ``status="error"`` and its
        message, and goes on.
    verbose : bool
        tqdm progress bar over configurations.

    Returns
    -------
    pandas.DataFrame
        One row per configuration (earlier results from ``results_path`` included).

    Examples
    --------
    >>> df = sweep(["pca", "rp", ("rae", {"alpha": 1e-7})], [16, 32], "sift5k")  # doctest: +SKIP
    """
    import pandas as pd

    configs = sweep_configs(methods, dims, dataset, ks=ks, recalls=recalls, metric=metric, seeds=seeds,
                            self_eval=self_eval, dataset_kwargs=dataset_kwargs)
    if results_path is not None:  # before any work: writable, not the input, a results file if it exists
        results_path = check_results_file(results_path, inputs=[dataset] if isinstance(dataset, (str, Path)) else [],
                                          required=("config_id", "status", "method"))
    rows = run_tasks(run_config, configs, results_path, errors=errors, executor=executor, verbose=verbose,
                     desc="sweep")
    return pd.DataFrame(rows)
