"""Figures of notebook 02 (encoder spectrum): singular values, condition number against λ, accuracy, weight norms."""

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .base import (
    PALETTE,
    as_frame,
    fmt_alpha,
    layout,
    metric_columns,
    metric_label,
    require_columns,
    switchable,
)


# --------------------------------------------------------------------------- RAE spectrum
def encoder_spectrum(df, *, reference=None, title="Encoder singular values", value="singular_value",
                     by="alpha", by_label="λ"):
    """Singular values of the encoder, one curve per penalty weight, with a slider over λ.

    Parameters
    ----------
    df : DataFrame with columns ``alpha`` (or ``by``), ``index`` and ``singular_value``
        Long format: one row per (λ, singular-value index).
    reference : dict of str -> array, optional
        Curves always shown (e.g. ``{"PCA (λ→0)": pca.singular_values_}``).

    Returns
    -------
    go.Figure
        The slider shows one λ at a time (first step: all of them together).
    """
    df = as_frame(df, "encoder_spectrum")
    require_columns(df, [by, "index", value], "encoder_spectrum")
    keys = sorted(df[by].unique(), key=float)
    colors = dict(zip(keys, _lambda_colors(keys)))
    fig = go.Figure()
    for name, sv in (reference or {}).items():
        sv = np.asarray(sv, dtype=float)
        fig.add_trace(go.Scatter(x=np.arange(1, len(sv) + 1), y=sv, mode="lines", name=str(name),
                                 line=dict(color="black", dash="dash", width=2)))

    def curve(key):
        g = df[df[by] == key].sort_values("index")
        return [go.Scatter(x=g["index"] + (1 if g["index"].min() == 0 else 0), y=g[value], mode="lines+markers",
                           marker=dict(size=4), name=f"{by_label}={fmt_alpha(key)}", line=dict(color=colors[key]),
                           hovertemplate=f"{by_label}={fmt_alpha(key)}<br>σ_%{{x}} = %{{y:.4g}}<extra></extra>")]

    layout(fig, title, "singular value index (descending)", "singular value")
    fig.update_yaxes(type="log")
    switchable(fig, keys, curve, control="slider", labels=fmt_alpha, all_label="all", prefix=f"{by_label} = ")
    return fig


def _lambda_colors(keys):
    n = len(keys)
    return sample_colorscale("Viridis", [i / max(n - 1, 1) for i in range(n)]) if n else []


def condition_vs_lambda(df, *, by="alpha", y="condition_number", group="variant", title="Condition number against λ"):
    """Encoder condition number against the penalty weight λ (log-log), one line per variant.

    ``df`` has columns ``alpha``, ``condition_number`` and optionally ``variant`` (e.g. "penalty on
    encoder and decoder" vs "encoder only"); λ = 0 is drawn at the left edge of the log axis.
    """
    df = as_frame(df, "condition_vs_lambda")
    require_columns(df, [by, y], "condition_vs_lambda")
    fig = go.Figure()
    groups = df.groupby(group, sort=False) if group in df.columns else [("RAE", df)]
    for i, (name, g) in enumerate(groups):
        g = g.sort_values(by)
        fig.add_trace(go.Scatter(x=_positive_alpha(g[by]), y=g[y], mode="lines+markers", name=str(name),
                                 customdata=g[by], line=dict(color=PALETTE[(i + 3) % len(PALETTE)]),
                                 hovertemplate="λ=%{customdata:.2g}<br>κ=%{y:.4g}<extra>" + str(name) + "</extra>"))
    layout(fig, title, "λ (penalty weight, log scale)", "condition number κ = σ_max / σ_min")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def _positive_alpha(a):
    """λ for a log axis: zeros are drawn a decade below the smallest positive λ."""
    a = np.asarray(a, dtype=float)
    pos = a[a > 0]
    floor = pos.min() / 10 if len(pos) else 1e-12
    return np.where(a > 0, a, floor)


def accuracy_vs_condition(df, *, x="condition_number", by="alpha", group="variant",
                          title="Top-k accuracy against condition number"):
    """Neighbour preservation against encoder condition number; a dropdown picks the metric (k).

    ``df``: one row per fitted encoder with ``condition_number``, metric columns (``top_k@k``,
    ``n-R@m``), and optionally ``alpha`` and ``variant`` (hover and colour).
    """
    df = as_frame(df, "accuracy_vs_condition")
    require_columns(df, [x], "accuracy_vs_condition")
    metrics = metric_columns(df)
    if not metrics:
        raise ValueError(f"accuracy_vs_condition: no metric columns (top_k@k or n-R@m) in {list(df.columns)}")
    parts = list(df.groupby(group, sort=False)) if group in df.columns else [("encoders", df)]

    def points(m):
        for gi, (name, g) in enumerate(parts):
            g = g.sort_values(x)
            lam = g[by] if by in g.columns else np.full(len(g), np.nan)
            yield go.Scatter(x=g[x], y=g[m], mode="lines+markers", name=str(name), legendgroup=str(name),
                             showlegend=True, customdata=np.asarray(lam, dtype=float),
                             marker=dict(size=8), line=dict(color=PALETTE[(gi + 3) % len(PALETTE)]),
                             hovertemplate="κ=%{x:.4g}<br>" + metric_label(m) +
                             "=%{y:.3f}<br>λ=%{customdata:.2g}<extra>" + str(name) + "</extra>")

    fig = switchable(go.Figure(), metrics, points, labels=metric_label, prefix="metric: ",
                     layout_updates=lambda m: {"yaxis.title.text": metric_label(m)})
    layout(fig, title, "condition number κ (log scale)", metric_label(metrics[0]))
    fig.update_xaxes(type="log")
    return fig


def trained_vs_closed_form(df, *, by="alpha", index="index", trained="trained", closed_form="closed_form",
                           title="Trained encoder against the closed-form optimum", by_label="λ"):
    """Singular values of the trained encoder beside the closed-form optimum, with a slider over λ.

    ``df``: long format with columns ``alpha``, ``index``, ``trained``, ``closed_form``.
    """
    df = as_frame(df, "trained_vs_closed_form")
    require_columns(df, [by, index, trained, closed_form], "trained_vs_closed_form")
    keys = sorted(df[by].unique(), key=float)
    def pair(key):
        g = df[df[by] == key].sort_values(index)
        xi = g[index] + (1 if g[index].min() == 0 else 0)
        return [go.Scatter(x=xi, y=g[closed_form], mode="lines", name="closed form",
                           line=dict(color="black", dash="dash"), legendgroup="cf"),
                go.Scatter(x=xi, y=g[trained], mode="markers", name="trained (Adam)",
                           marker=dict(color=PALETTE[3], size=7), legendgroup="tr")]

    fig = layout(go.Figure(), title, "singular value index (descending)", "singular value")
    fig.update_yaxes(type="log")
    # lambda = 0 does not fix the encoder's per-direction scale, so open on the first positive one
    first_pos = next((i for i, k in enumerate(keys) if float(k) > 0), 0)
    switchable(fig, keys, pair, control="slider", labels=fmt_alpha, prefix=f"{by_label} = ", active=first_pos,
               min_choices=1)
    return fig


def weight_norms(df, *, by="alpha", x="step", columns=("encoder_norm", "decoder_norm"),
                 title="Encoder and decoder norms during training", by_label="λ"):
    """Frobenius norms of encoder and decoder over training steps, with a slider over λ.

    ``df``: long format, one row per (λ, epoch) with ``alpha``, ``step``, ``encoder_norm``,
    ``decoder_norm`` (an RAE's ``history_`` with the λ added). Shows the drift of the
    encoder-only penalty: the encoder shrinks while the decoder grows to compensate.
    """
    df = as_frame(df, "weight_norms")
    require_columns(df, [by, x, *columns], "weight_norms")
    keys = sorted(df[by].unique(), key=float)
    styles = {columns[0]: dict(color=PALETTE[3]), columns[-1]: dict(color=PALETTE[0], dash="dash")}

    def norms(key):
        g = df[df[by] == key].sort_values(x)
        return [go.Scatter(x=g[x], y=g[c], mode="lines", name=c.replace("_", " "), legendgroup=c,
                           line=styles.get(c, {}),
                           hovertemplate=f"{by_label}={fmt_alpha(key)}<br>step %{{x}}<br>%{{y:.4g}}"
                           "<extra>" + c + "</extra>") for c in columns]

    fig = layout(go.Figure(), title, "optimiser step", "Frobenius norm")
    fig.update_yaxes(type="log")
    # open on the largest lambda, where the drift is largest
    switchable(fig, keys, norms, control="slider", labels=fmt_alpha, prefix=f"{by_label} = ", active=len(keys) - 1,
               min_choices=1)
    return fig
