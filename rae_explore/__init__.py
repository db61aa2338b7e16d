"""rae_explore: how far can embedding vectors be compressed before their nearest neighbours are lost?"""

from .datasets import DATASETS, Dataset, load_dataset, split_base_queries, synthetic
from .knn import ground_truth, knn_search

__version__ = "0.1.0"

__all__ = [
    "DATASETS",
    "Dataset",
    "ground_truth",
    "knn_search",
    "load_dataset",
    "split_base_queries",
    "synthetic",
    "__version__",
]
