"""The cosine rule, written once: under ``metric="cosine"`` every vector is L2-normalised first.

Base, queries and training vectors, reducers' inputs and outputs, exact search and index
pipelines all go through :func:`for_metric` (arrays) or :meth:`Dataset.prepared
<rae_explore.data.datasets.Dataset.prepared>` (datasets), so cosine similarity is the inner
product of unit vectors everywhere.
"""

import numpy as np


def l2_normalize(x, name="X", *, offset=0):
    """A float32 C-contiguous copy of ``x`` with every row scaled to unit L2 norm.

    Parameters
    ----------
    x : ndarray, shape (n, d)
    name : str
        Argument name in the error message.
    offset : int
        Added to row numbers in the message (``x`` is a block starting at that row).

    Raises
    ------
    ValueError
        A zero row (its direction, hence its cosine similarity, is undefined), naming the row.
    """
    x = np.array(x, dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    zero = norms[:, 0] == 0
    if zero.any():
        raise ValueError(f"{name} row {offset + int(np.flatnonzero(zero)[0])} is the zero vector: it cannot be "
                         "L2-normalised (its cosine similarity is undefined); drop that row")
    x /= norms
    return x


def for_metric(x, metric, name="X", *, offset=0):
    """The vectors ``metric`` compares: an L2-normalised float32 copy under ``"cosine"``, else ``x`` as is."""
    return l2_normalize(x, name, offset=offset) if metric == "cosine" else x
