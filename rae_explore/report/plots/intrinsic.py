"""Figures of notebook 01 (intrinsic dimension): local-ID histogram, knees, loss curves, recommended dimensions."""

import math

import numpy as np
import plotly.graph_objects as go

from .base import (
    PALETTE,
    add_vlines,
    as_frame,
    layout,
    require_columns,
    switchable,
)


# --------------------------------------------------------------------------- intrinsic dimension
def local_id_histogram(local, *, global_estimates=None, title="Local intrinsic dimension", nbins=40):
    """Histogram of pointwise (local) intrinsic-dimension estimates, one per estimator (dropdown).

    Parameters
    ----------
    local : dict of str -> array, or DataFrame
        Per-point estimates for each estimator: a dict, a long table with columns
        ``estimator`` and ``local_id``, or the wide table of
        :func:`rae_explore.intrinsic.estimate.local_id` (one column per estimator).
    global_estimates : dict of str -> float, optional
        Drawn as a dashed vertical line on the matching estimator's histogram.

    Returns
    -------
    go.Figure
    """
    import pandas as pd

    if isinstance(local, pd.DataFrame):
        if {"estimator", "local_id"} <= set(local.columns):
            local = {k: g["local_id"].to_numpy() for k, g in local.groupby("estimator", sort=False)}
        else:
            local = {str(c): local[c].to_numpy() for c in local.columns}
    if not isinstance(local, dict) or not local:
        raise ValueError("local_id_histogram: expected a non-empty dict {estimator: per-point estimates}")
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(local)}

    def histogram(name):
        v = np.asarray(local[name], dtype=float)
        v = v[np.isfinite(v)]
        med = float(np.median(v)) if len(v) else float("nan")
        g = (global_estimates or {}).get(name, med)
        label = "global estimate" if global_estimates and name in global_estimates else "median"
        return [go.Histogram(x=v, nbinsx=nbins, name=str(name), marker_color=colors[name], opacity=0.85,
                             hovertemplate="ID %{x}<br>%{y} points<extra>" + str(name) + "</extra>"),
                go.Scatter(x=[g, g], y=[0, 1], yaxis="y2", mode="lines", name=f"{name}: {label} {g:.1f}",
                           line=dict(color="black", dash="dash"), hoverinfo="name")]

    fig = switchable(go.Figure(), local, histogram, prefix="estimator: ")
    fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False), bargap=0.02)
    layout(fig, title, "local intrinsic dimension", "points")
    return fig


def knee_curve(x, y, knee=None, *, title="", xtitle="dimension", ytitle="", log_x=False, log_y=False,
               name="", knee_label="knee", reference=None, hline=None):
    """A curve over dimension with its knee marked (dashed vertical line and annotation).

    Parameters
    ----------
    x, y : array-like
        Dimensions and the quantity (loss, recall, ...).
    knee : float, optional
        The knee's x; not drawn if None.
    reference : dict of str -> float, optional
        More vertical lines (e.g. intrinsic-dimension estimates), dotted, toggled in the legend.
    hline : dict of str -> float, optional
        Horizontal dashed lines (e.g. ``{"90 % of full": 0.9}``), labelled.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"knee_curve: x and y must be 1-d of the same non-zero length, got {x.shape} and {y.shape}")
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name=name or ytitle, line=dict(color=PALETTE[0])))
    if knee is not None and np.isfinite(knee):
        # a trace on a hidden [0, 1] axis, not a shape: shapes take log10 coordinates on log axes
        fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True))
        fig.add_trace(go.Scatter(x=[float(knee)] * 2, y=[0, 1], yaxis="y2", mode="lines+text",
                                 name=f"{knee_label}: {float(knee):g}", text=["", f"{knee_label}: {float(knee):g}"],
                                 textposition="bottom right", line=dict(color="crimson", dash="dash", width=2),
                                 hoverinfo="name"))
    for label, v in (hline or {}).items():
        fig.add_hline(y=float(v), line=dict(color="gray", dash="dash"), annotation_text=label,
                      annotation_position="bottom right")
    add_vlines(fig, reference or {})
    layout(fig, title, xtitle, ytitle)
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def loss_curves(curve, *, knees=None, id_lines=None, group="kind", x="n_components",
                columns=("test_fvu", "train_fvu", "test_loss", "train_loss"),
                title="Autoencoder reconstruction loss against hidden dimension"):
    """Reconstruction loss over hidden dimension, one line per autoencoder kind, knees marked.

    A dropdown switches the loss column (test / train, fraction of variance unexplained or MSE);
    each kind's knee is a marker with a label; intrinsic-dimension estimates are dotted vertical
    lines toggled in the legend.

    Parameters
    ----------
    curve : DataFrame
        :func:`rae_explore.intrinsic.knee.loss_curve`'s table (``kind``, ``n_components`` and
        loss columns).
    knees : dict of str -> int or None, optional
        ``{kind: knee dimension}`` (:func:`rae_explore.intrinsic.knee.loss_knees`).
    id_lines : dict of str -> float, optional
    """
    df = as_frame(curve, "loss_curves")
    require_columns(df, [group, x], "loss_curves")
    columns = [c for c in columns if c in df.columns]
    if not columns:
        raise ValueError(f"loss_curves: no loss column in {list(df.columns)}")
    labels = {"test_fvu": "test loss (fraction of variance unexplained)", "train_fvu": "train loss (FVU)",
              "test_loss": "test loss (MSE per element)", "train_loss": "train loss (MSE per element)"}
    knees = knees or {}
    def curves(c):
        for i, (kind, g) in enumerate(df.groupby(group, sort=False)):
            g = g.sort_values(x)
            color = PALETTE[(i + 3) % len(PALETTE)]
            yield go.Scatter(x=g[x], y=g[c], mode="lines+markers", name=f"{kind}", legendgroup=str(kind),
                             line=dict(color=color),
                             hovertemplate=f"<b>{kind}</b><br>dim=%{{x}}<br>%{{y:.4g}}<extra></extra>")
            k = knees.get(kind)
            if k is not None and np.isfinite(k) and (g[x] == k).any():
                yield go.Scatter(x=[k], y=[float(g.loc[g[x] == k, c].iloc[0])], mode="markers+text",
                                 name=f"{kind} knee = {k:g}", legendgroup=str(kind),
                                 text=[f"{kind} knee {k:g}"], showlegend=False,
                                 textposition="top right" if i % 2 == 0 else "bottom left",
                                 marker=dict(symbol="x", size=14, color=color, line=dict(width=2)))

    fig = switchable(go.Figure(), columns, curves, labels=lambda c: labels.get(c, c),
                     layout_updates=lambda c: {"yaxis.title.text": labels.get(c, c)},
                     then=lambda f: add_vlines(f, id_lines or {}))
    layout(fig, title, "hidden dimension (log scale)", labels.get(columns[0], columns[0]))
    fig.update_xaxes(type="log", tickvals=sorted(df[x].unique()))
    return fig


def recommended_dims(df, *, d=None, label="view", value="dim", group=None, title="Recommended dimension by view",
                     bytes_per_value=4):
    """Horizontal bars: the dimension each view recommends, annotated with the compression it implies.

    Parameters
    ----------
    df : DataFrame
        One row per suggestion (an ID estimator, a loss knee, the recall knee, ...), with a
        ``label`` column (bar names) and a ``value`` column (the dimension). Rows without a
        finite value are left out.
    d : int, optional
        Original dimension; adds ``d/dim`` (compression ratio) and float32 bytes per vector.
    group : str, optional
        Column whose values colour the bars (e.g. ``"view"``), one legend entry each.
    """
    df = as_frame(df, "recommended_dims")
    require_columns(df, [label, value] + ([group] if group else []), "recommended_dims")
    df = df[np.isfinite(df[value].astype(float))]
    if len(df) == 0:
        raise ValueError("recommended_dims: no row has a finite dimension")
    fig = go.Figure()
    parts = list(df.groupby(group, sort=False)) if group else [("", df)]
    for i, (name, g) in enumerate(parts):
        text = []
        for v in g[value].astype(float):
            t = f"{v:.1f}" if v != int(v) else f"{int(v)}"
            if d:
                t += f"  ({d / v:.1f}x smaller, {int(math.ceil(v)) * bytes_per_value} B/vector)"
            text.append(t)
        fig.add_trace(go.Bar(y=g[label].astype(str), x=g[value], orientation="h", text=text, name=str(name),
                             textposition="outside", marker_color=PALETTE[i % len(PALETTE)], cliponaxis=False,
                             showlegend=bool(group), hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    if d:
        fig.add_vline(x=d, line=dict(color="gray", dash="dot"), annotation_text=f"original d={d}")
    layout(fig, title, "dimension", None)
    fig.update_xaxes(range=[0, max(float(df[value].max()), d or 0) * 1.45])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(260, 100 + 28 * len(df)))
    return fig
