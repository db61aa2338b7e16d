"""Figures of notebook 03 (recall curves): top-k / n-R@m against dimension, fit and transform times."""

import numpy as np
import plotly.graph_objects as go

from .base import (
    add_vlines,
    as_frame,
    layout,
    method_color,
    metric_columns,
    metric_label,
    require_columns,
    switchable,
)


# --------------------------------------------------------------------------- recall curves
def recall_curves(df, *, x="n_components", method="method", metrics=None, id_lines=None, d=None,
                  title="Neighbour preservation against compression dimension"):
    """Top-k accuracy / recall against the reduced dimension, one line per method.

    A dropdown picks the metric (``top_k@1`` … ``top_k@50``, ``1-R@10`` …); the legend toggles
    methods; intrinsic-dimension estimates appear as dotted vertical lines (toggle them as a
    group in the legend).

    Parameters
    ----------
    df : DataFrame
        One row per (method, dimension) with columns ``method``, ``n_components`` (``x``) and
        metric columns.
    metrics : list of str, optional
        Default: every ``top_k@k`` and ``n-R@m`` column.
    id_lines : dict of str -> float, optional
        Intrinsic-dimension estimates (``{"MLE": 14.2, ...}``).
    d : int, optional
        The original dimension, for the hover's compression ratio.

    Returns
    -------
    go.Figure
    """
    df = as_frame(df, "recall_curves")
    require_columns(df, [x, method], "recall_curves")
    metrics = list(metrics) if metrics else metric_columns(df)
    if not metrics:
        raise ValueError(f"recall_curves: no metric columns (top_k@k or n-R@m) in {list(df.columns)}")
    require_columns(df, metrics, "recall_curves")
    methods = list(dict.fromkeys(df[method]))

    def lines(m):
        for i, meth in enumerate(methods):
            g = df[df[method] == meth].sort_values(x)
            ratio = (d / g[x].astype(float)) if d else np.full(len(g), np.nan)
            yield go.Scatter(
                x=g[x], y=g[m], mode="lines+markers", name=str(meth), legendgroup=str(meth),
                line=dict(color=method_color(meth, i)), customdata=np.asarray(ratio, dtype=float),
                hovertemplate=f"<b>{meth}</b><br>dim=%{{x}}" + (" (%{customdata:.1f}x smaller)" if d else "")
                + f"<br>{metric_label(m)}=%{{y:.3f}}<extra></extra>")

    fig = switchable(go.Figure(), metrics, lines, labels=metric_label, prefix="metric: ",
                     layout_updates=lambda m: {"yaxis.title.text": metric_label(m)},
                     then=lambda f: add_vlines(f, id_lines or {}))
    layout(fig, title, "reduced dimension (log scale)", metric_label(metrics[0]))
    fig.update_xaxes(type="log", tickvals=sorted(df[x].unique()))
    fig.update_yaxes(range=[0, 1.02])
    return fig


def timings(df, *, x="n_components", method="method", columns=("fit_s", "transform_s"), title="Time per method"):
    """Fit and transform time against dimension, one line per method; a dropdown switches fit/transform."""
    df = as_frame(df, "timings")
    columns = [c for c in columns if c in df.columns]
    if not columns:
        raise ValueError(f"timings: none of the time columns {list(columns)} in {list(df.columns)}")
    require_columns(df, [x, method], "timings")
    labels = {"fit_s": "fit time (s)", "transform_s": "transform time (s)"}
    methods = list(dict.fromkeys(df[method]))

    def lines(c):
        for i, meth in enumerate(methods):
            g = df[df[method] == meth].sort_values(x)
            yield go.Scatter(x=g[x], y=g[c], mode="lines+markers", name=str(meth), legendgroup=str(meth),
                             line=dict(color=method_color(meth, i)),
                             hovertemplate=f"<b>{meth}</b><br>dim=%{{x}}<br>%{{y:.3g}} s<extra></extra>")

    fig = switchable(go.Figure(), columns, lines, labels=lambda c: labels.get(c, c),
                     layout_updates=lambda c: {"yaxis.title.text": labels.get(c, c)})
    layout(fig, title, "reduced dimension (log scale)", labels.get(columns[0], columns[0]))
    fig.update_xaxes(type="log", tickvals=sorted(df[x].unique()))
    fig.update_yaxes(type="log")
    return fig
