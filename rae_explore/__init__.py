"""rae_explore: how far can embedding vectors be compressed before their nearest neighbours are lost?"""

from .datasets import DATASETS, Dataset, load_dataset, split_base_queries, synthetic
from .knn import ground_truth, knn_search
from .metrics import recall_n_at_m, top_k_accuracy
from .reducers import REDUCERS, make_reducer
from .rae import RAE
from .evaluate import evaluate, sweep
from .pipelines import IndexPipeline, evaluate_pipeline, expand_grid, pareto_frontier, run_grid, sweep_pipeline
from .batch import run_report
from .intrinsic_dim import estimate_id
from .dimension_knee import recommend_dim

__version__ = "0.1.0"

__all__ = [
    "IndexPipeline",
    "evaluate_pipeline",
    "expand_grid",
    "pareto_frontier",
    "run_grid",
    "sweep_pipeline",
    "run_report",
    "estimate_id",
    "recommend_dim",
    "RAE",
    "REDUCERS",
    "evaluate",
    "make_reducer",
    "recall_n_at_m",
    "sweep",
    "top_k_accuracy",
    "DATASETS",
    "Dataset",
    "ground_truth",
    "knn_search",
    "load_dataset",
    "split_base_queries",
    "synthetic",
    "__version__",
]
