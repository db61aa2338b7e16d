"""Intrinsic dimension: every scikit-dimension estimator on shared exact neighbours, and the loss knee.

- :mod:`.estimate`: :func:`estimate_id` (one row per estimator) and :func:`local_id` (pointwise);
- :mod:`.graph`: the exact neighbour graph shared by the estimators, and duplicate detection;
- :mod:`.estimators`: the estimator names, defaults and parameters;
- :mod:`.fast_paths`: how each estimator's slow part is computed faster (checked against plain skdim);
- :mod:`.budget`: the predicted cost behind ``budget_s``, and DANCo's calibration cache;
- :mod:`.knee`: the autoencoder-loss knee (Kneedle) over a grid of hidden dimensions.
"""

from .estimate import estimate_id, local_id
from .estimators import ESTIMATORS, LOCAL_ESTIMATORS
from .graph import Neighbours, first_occurrence, nearest_neighbours
from .knee import dims_grid, find_knee, loss_curve, loss_knees

__all__ = ["ESTIMATORS", "LOCAL_ESTIMATORS", "estimate_id", "local_id", "Neighbours", "first_occurrence",
           "nearest_neighbours", "dims_grid", "find_knee", "loss_curve", "loss_knees"]
