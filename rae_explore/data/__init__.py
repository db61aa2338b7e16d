"""Data: vector file formats (path in, array out), the ``Dataset`` object and its registry, generated sets."""

from .datasets import (DATASETS, Dataset, DatasetInfo, as_dataset, known_names, load_dataset, register,
                       split_base_queries)
from .synthetic import synthetic

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "as_dataset", "known_names", "load_dataset", "register",
           "split_base_queries", "synthetic"]
