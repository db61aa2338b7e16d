"""The one grid vocabulary: a grid is a dict ``{name: [values]}``; its points are dicts ``{name: value}``.

Notebook parameter grids (:func:`rae_explore.report.batch.notebook_runs`), the configurations of
sweeps and pipeline grids (:mod:`rae_explore.experiments`) and search-parameter sweeps of an
index (:func:`rae_explore.index.factory.search_settings`) are all expanded by
:func:`grid_product`.
"""

import itertools

import numpy as np


def grid_product(grid, base=None, *, label="grid", allow_scalars=False):
    """Every combination of the values of ``grid``, each overlaid on ``base``, in row-major order.

    Parameters
    ----------
    grid : dict name -> list of values
    base : dict, optional
        Values every point carries (a grid value of the same name replaces it).
    label : str
        Name of the grid in error messages (``"grid"``, ``"sweep"``, ...).
    allow_scalars : bool
        Read a scalar value as a one-value list (otherwise it is an error).

    Returns
    -------
    list of dict
        ``[dict(base)]`` for an empty grid.

    Examples
    --------
    >>> grid_product({"dataset": ["a", "b"], "k": [1, 2]}, {"seed": 0})  # doctest: +NORMALIZE_WHITESPACE
    [{'seed': 0, 'dataset': 'a', 'k': 1}, {'seed': 0, 'dataset': 'a', 'k': 2},
     {'seed': 0, 'dataset': 'b', 'k': 1}, {'seed': 0, 'dataset': 'b', 'k': 2}]
    """
    base, grid = dict(base or {}), dict(grid or {})
    axes = []
    for name, values in grid.items():
        if allow_scalars and (np.isscalar(values) or values is None):
            values = [values]
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"{label}[{name!r}] must be a non-empty list of values, got {values!r}")
        axes.append(list(values))
    keys = list(grid)
    return [dict(base, **dict(zip(keys, combo))) for combo in itertools.product(*axes)]
