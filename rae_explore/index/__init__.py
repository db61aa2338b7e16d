"""faiss index pipelines on compressed vectors: an optional reducer, then a faiss index.

- :mod:`.factory`: index factory strings, training-size checks, search parameters;
- :mod:`.pipeline`: :class:`IndexPipeline` (reducer + index, search with re-ranking);
- :mod:`.measure`: :func:`evaluate_pipeline` and :func:`sweep_pipeline` (the autoencoder paper's table);
- :mod:`.lattice`: :class:`LatticePipeline` (a reducer, the Catalyzer by default, + a Zn lattice code of b bits);
- :mod:`.summaries`: Pareto frontiers, best settings, build speed-ups, the paper's table.
"""

from .factory import TrainingSizeWarning, make_index
from .lattice import LATTICE_RECALLS, LatticeCodec, LatticePipeline, evaluate_lattice, lattice_r2
from .measure import PAPER_RECALLS, evaluate_pipeline, sweep_pipeline
from .pipeline import IndexPipeline, build_pipeline
from .summaries import (
           best_settings,
           build_speedups,
           load_results,
           paper_table,
           pareto_frontier,
)

__all__ = ["TrainingSizeWarning", "make_index", "PAPER_RECALLS", "evaluate_pipeline", "sweep_pipeline",
           "IndexPipeline", "build_pipeline", "best_settings", "build_speedups", "load_results", "paper_table",
           "pareto_frontier",
           "LATTICE_RECALLS", "LatticeCodec", "LatticePipeline", "evaluate_lattice", "lattice_r2"]
