"""Experiments: grids of independent, picklable tasks (one config in, rows out), saved atomically, resumed.

- :mod:`.tasks`: the one task-grid runner (:func:`run_tasks`) and result files;
- :mod:`.evaluate`: one reducer on one dataset, one tidy row;
- :mod:`.sweep`: methods x dimensions x seeds;
- :mod:`.pipeline_grid`: reducers x dimensions x faiss indexes;
- :mod:`.executors`: executors such as :class:`TimeBudget`;
- :mod:`.recommend`: intrinsic dimension, loss knee and recall knee side by side.
"""

from .evaluate import evaluate
from .executors import TimeBudget
from .pipeline_grid import expand_grid, pipeline_configs, run_grid, run_pipeline_config
from .recommend import recall_curve, recall_knee, recommend_dim
from .sweep import run_config, sweep, sweep_configs
from .tasks import grid_product, ok_rows, run_tasks

__all__ = ["evaluate", "TimeBudget", "expand_grid", "pipeline_configs", "run_grid", "run_pipeline_config",
           "recall_curve", "recall_knee", "recommend_dim", "run_config", "sweep", "sweep_configs", "grid_product",
           "ok_rows", "run_tasks"]
