"""Per-process caches for tasks: a grid's consecutive tasks on one dataset load it (and its ground truth) once.

Tasks receive a dataset *name* and its loading arguments (small, picklable); the worker that
runs them keeps the most recent dataset here, prepared for its metric
(:meth:`~rae_explore.data.datasets.Dataset.prepared`) with exact ground truth of at least the
columns asked for.
"""

import functools
import json

from ..data.datasets import load_dataset


def _key(dataset_kwargs):
    return json.dumps(dataset_kwargs or {}, sort_keys=True, default=str)


@functools.lru_cache(maxsize=1)
def _prepared(name, kwargs_json, metric):
    return load_dataset(name, **json.loads(kwargs_json)).prepared(metric)


_WITH_GT = {}


def cached_dataset(name, dataset_kwargs=None, metric=None, k_gt=None):
    """The dataset ``name`` loaded with ``dataset_kwargs``, prepared for ``metric``, cached in this process.

    Parameters
    ----------
    name : str
    dataset_kwargs : dict, optional
        Passed to :func:`~rae_explore.data.datasets.load_dataset` (``seed``, ``n_samples``, ...).
    metric : str, optional
        Overrides the dataset's metric.
    k_gt : int, optional
        Ensure ``gt`` has at least ``min(k_gt, nb)`` columns (computed once, exact, original space).

    Returns
    -------
    Dataset
    """
    key = (name, _key(dataset_kwargs), metric)
    ds = _WITH_GT.get(key) or _prepared(*key)
    if k_gt is not None and (ds.gt is None or ds.gt.shape[1] < min(k_gt, ds.nb)):
        ds = ds.with_ground_truth(min(int(k_gt), ds.nb))
    _WITH_GT.clear()  # one dataset per process
    _WITH_GT[key] = ds
    return ds
