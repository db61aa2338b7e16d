"""Plotly figure builders for the notebooks and reports, one module per notebook plus a shared base.

Every builder takes plain data (a tidy ``pandas.DataFrame`` or arrays), returns a
``plotly.graph_objects.Figure`` and never shows or saves it. What a reader should be able to
flip through (a λ, an estimator, the k of top-k accuracy, fit vs transform time) is
precomputed into the figure and carried by plotly's own sliders, dropdowns and legend
toggles, so it still works in a static, offline HTML export where no Python runs.

- :mod:`.base`: renderer set-up, colours, layout, dropdowns and sliders (:func:`.switchable`: one
  group of traces per choice), tables;
- :mod:`.intrinsic` (notebook 01), :mod:`.spectrum` (02), :mod:`.recall` (03), :mod:`.pipelines` (04).
"""

from .base import (
    init_notebook,
    method_color,
    metric_label,
    metric_columns,
    add_dropdown,
    add_slider,
    switchable,
    table,
    RENDERER,
    CONFIG,
    TEMPLATE,
    HEIGHT,
)
from .intrinsic import local_id_histogram, knee_curve, loss_curves, recommended_dims
from .spectrum import encoder_spectrum, condition_vs_lambda, accuracy_vs_condition, trained_vs_closed_form, weight_norms
from .recall import recall_curves, timings
from .pipelines import pipeline_recall_qps, pipeline_size_recall, pipeline_build_time, pipeline_table

__all__ = [
    "init_notebook",
    "method_color",
    "metric_label",
    "metric_columns",
    "add_dropdown",
    "add_slider",
    "switchable",
    "table",
    "RENDERER",
    "CONFIG",
    "TEMPLATE",
    "HEIGHT",
    "local_id_histogram",
    "knee_curve",
    "loss_curves",
    "recommended_dims",
    "encoder_spectrum",
    "condition_vs_lambda",
    "accuracy_vs_condition",
    "trained_vs_closed_form",
    "weight_norms",
    "recall_curves",
    "timings",
    "pipeline_recall_qps",
    "pipeline_size_recall",
    "pipeline_build_time",
    "pipeline_table",
]
