"""Data: vector file formats (path in, array out), the ``Dataset`` object and its registry, generated sets."""

from .datasets import (DATASETS, Dataset, DatasetInfo, as_dataset, known_names, load_dataset, register,
                       split_base_queries)
from .synthetic import synthetic
from .vectors import for_metric, l2_normalize

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "as_dataset", "known_names", "load_dataset", "register",
           "split_base_queries", "synthetic", "for_metric", "l2_normalize"]
