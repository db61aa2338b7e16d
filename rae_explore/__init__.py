"""rae_explore: how far can embedding vectors be compressed before their nearest neighbours are lost?

The public names below load on first use (PEP 562), so ``import rae_explore`` stays light:
scikit-learn, torch, faiss and plotly are imported by the subpackage that needs them, when it
is first used. The subpackages, bottom to top: :mod:`~rae_explore.data`,
:mod:`~rae_explore.neighbors`, :mod:`~rae_explore.reducers`, :mod:`~rae_explore.intrinsic`,
:mod:`~rae_explore.index`, :mod:`~rae_explore.experiments`, :mod:`~rae_explore.report`,
:mod:`~rae_explore.cli`.
"""

import importlib

__version__ = "0.1.0"

# public name -> subpackage that defines it
_LAZY = {
    "DATASETS": "data", "Dataset": "data", "load_dataset": "data", "split_base_queries": "data",
    "synthetic": "data",
    "ground_truth": "neighbors", "knn_search": "neighbors", "recall_n_at_m": "neighbors",
    "top_k_accuracy": "neighbors",
    "REDUCERS": "reducers", "make_reducer": "reducers", "RAE": "reducers",
    "estimate_id": "intrinsic",
    "IndexPipeline": "index", "evaluate_pipeline": "index", "sweep_pipeline": "index", "pareto_frontier": "index",
    "evaluate": "experiments", "sweep": "experiments", "pipeline_configs": "experiments", "expand_grid": "experiments",
    "run_grid": "experiments", "recommend_dim": "experiments",
    "run_report": "report",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
