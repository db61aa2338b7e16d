"""Exact k-nearest neighbours (faiss, in bounded memory) and the metrics that compare neighbour lists."""

from .knn import faiss_metric, ground_truth, knn_search
from .metrics import recall_n_at_m, top_k_accuracy

__all__ = ["faiss_metric", "ground_truth", "knn_search", "recall_n_at_m", "top_k_accuracy"]
