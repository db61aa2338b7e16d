"""Headline results of a notebook run: the few numbers the reports index shows next to each run.

A notebook's last cells call :func:`record` with what answers its question (intrinsic-dimension
estimates and the recommended dimension, the best method and its top-10 at each dimension, the
best index pipeline at the target recall, what a budget skipped). The values land in
``headline.json`` in the notebook's working directory, which for a batch run is its run folder
(:mod:`rae_explore.report.batch` runs notebooks there); :func:`read` gives them back to the
index page. Outside a batch run the file is written to the current folder, harmless.
"""

import json
import math
from pathlib import Path

from ..atomic import atomic_write

HEADLINE_FILE = "headline.json"


def _plain(v):
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def record(directory=".", **items):
    """Merge ``items`` into ``<directory>/headline.json`` (atomically) and return the whole headline.

    Parameters
    ----------
    directory : path
        Where the run's files go (the notebook's working directory).
    **items
        JSON-able values (numpy scalars, dicts and lists of them are converted), e.g.
        ``recommended_dim=24, intrinsic_dimension={"MLE": 17.2}``.

    Returns
    -------
    dict
    """
    path = Path(directory) / HEADLINE_FILE
    head = read(directory)
    head.update(_plain(items))
    with atomic_write(path, "w") as f:
        json.dump(head, f, indent=1, sort_keys=True)
    return head


def read(directory):
    """The headline recorded in ``directory`` ({} if none, or if the file is unreadable)."""
    path = Path(directory) / HEADLINE_FILE
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
