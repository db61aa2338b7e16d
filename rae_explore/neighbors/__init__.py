"""Exact k-nearest neighbours (faiss, in bounded memory), its on-disk ground-truth cache, and the metrics that compare neighbour lists."""

from .gt_cache import cached_ground_truth
from .knn import faiss_metric, ground_truth, knn_search
from .metrics import recall_n_at_m, top_k_accuracy

__all__ = ["cached_ground_truth", "faiss_metric", "ground_truth", "knn_search", "recall_n_at_m", "top_k_accuracy"]
