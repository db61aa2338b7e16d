"""Plotly figure builders for the notebooks and reports.

Every builder takes plain data (a tidy ``pandas.DataFrame`` or arrays), returns a
``plotly.graph_objects.Figure`` and never shows or saves it. What a reader should be able to
flip through (a λ, an estimator, the k of top-k accuracy, fit vs transform time) is
precomputed into the figure and carried by plotly's own sliders, dropdowns and legend
toggles, so it still works in a static, offline HTML export where no Python runs.

In a notebook, call :func:`init_notebook` once before showing figures: it selects the
``"plotly_mimetype+notebook"`` renderer, which JupyterLab renders natively and which embeds
plotly.js once per notebook so that nbconvert's HTML works with no network.

Column conventions (those of :mod:`rae_explore.evaluate` and :mod:`rae_explore.intrinsic_dim`):
``method``, ``n_components``, ``top_k@<k>``, ``<n>-R@<m>``, ``fit_s``, ``transform_s``,
``condition_number``, ``alpha`` (the RAE penalty weight λ).
"""

import logging
import math
import re

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale

logger = logging.getLogger(__name__)

RENDERER = "plotly_mimetype+notebook"
"""plotly renderer the notebooks use: native in JupyterLab, plotly.js inlined for HTML export."""

CONFIG = {"displaylogo": False, "responsive": True}

TEMPLATE = "plotly_white"
HEIGHT = 460

_PALETTE = qualitative.D3 + qualitative.Set2
_FIXED_COLORS = {"pca": _PALETTE[0], "rp": _PALETTE[1], "rae": _PALETTE[3], "umap": _PALETTE[2],
                 "isomap": _PALETTE[4], "mds": _PALETTE[5], "lpp": _PALETTE[6]}

_TOPK_RE = re.compile(r"^top_k@(\d+)$")
_RECALL_RE = re.compile(r"^(\d+)-R@(\d+)$")


# --------------------------------------------------------------------------- set-up
def init_notebook(renderer=RENDERER):
    """Select the plotly renderer for notebooks (idempotent).

    ``"plotly_mimetype+notebook"`` gives each figure output two representations: plotly's mime
    type (JupyterLab draws it) and HTML (nbconvert exports it). The HTML part embeds plotly.js
    once, on the first figure, so the exported page renders offline; calling this again does not
    embed it a second time. Under papermill the automatic choice would be ``"plotly_mimetype"``
    alone, which nbconvert cannot render, hence this call.

    Returns nothing (so that a notebook cell calling it prints nothing).
    """
    import plotly.io as pio

    for name in renderer.split("+"):
        pio.renderers[name].config = dict(CONFIG)
    if pio.renderers.default != renderer:
        pio.renderers.default = renderer


def method_color(method, i=0):
    """A stable colour per reducer name (the same method has the same colour in every figure)."""
    return _FIXED_COLORS.get(str(method).lower(), _PALETTE[(7 + i) % len(_PALETTE)])


def _layout(fig, title, xtitle=None, ytitle=None, **kw):
    fig.update_layout(title=dict(text=title, x=0.01, xanchor="left"), template=TEMPLATE, height=HEIGHT,
                      margin=dict(l=60, r=20, t=60 if title else 30, b=60), **kw)
    if xtitle is not None:
        fig.update_xaxes(title_text=xtitle)
    if ytitle is not None:
        fig.update_yaxes(title_text=ytitle)
    return fig


def _require_columns(df, cols, what):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {list(df.columns)}")


def _as_frame(data, what):
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        df = data
    elif isinstance(data, (list, tuple)) and data and isinstance(data[0], dict):
        df = pd.DataFrame(list(data))
    elif isinstance(data, dict):
        df = pd.DataFrame(data)
    else:
        raise TypeError(f"{what}: expected a pandas DataFrame or a list of row dicts, got {type(data).__name__}")
    if len(df) == 0:
        raise ValueError(f"{what}: no rows to plot")
    return df


def metric_label(col):
    """Readable axis label of a metric column: ``top_k@10`` -> "top-10 accuracy", ``1-R@10`` -> "1-recall@10"."""
    m = _TOPK_RE.match(str(col))
    if m:
        return f"top-{m.group(1)} accuracy"
    m = _RECALL_RE.match(str(col))
    if m:
        return f"{m.group(1)}-recall@{m.group(2)}"
    return str(col).replace("_", " ")


def metric_columns(df):
    """Columns of ``df`` holding neighbour-preservation metrics (``top_k@k`` first, by k; then ``n-R@m``)."""
    topk = sorted((c for c in df.columns if _TOPK_RE.match(str(c))), key=lambda c: int(_TOPK_RE.match(c).group(1)))
    rec = sorted((c for c in df.columns if _RECALL_RE.match(str(c))),
                 key=lambda c: tuple(int(g) for g in _RECALL_RE.match(c).groups()))
    return topk + rec


def _visibility_steps(groups, n_traces, always=()):
    """For each group of trace indices, a visible-mask showing that group plus ``always``."""
    masks = []
    for g in groups:
        vis = [False] * n_traces
        for i in list(g) + list(always):
            vis[i] = True
        masks.append(vis)
    return masks


def add_dropdown(fig, labels, masks, *, active=0, x=1.0, y=1.16, layout_updates=None, prefix=""):
    """Add a dropdown that switches trace visibility (works in static HTML).

    Parameters
    ----------
    fig : go.Figure
    labels : list of str
        One button per entry.
    masks : list of list of bool
        Visibility of every trace for each button.
    layout_updates : list of dict, optional
        Per-button layout changes (e.g. an axis title).
    """
    buttons = []
    for i, (lab, vis) in enumerate(zip(labels, masks)):
        lay = (layout_updates or [{}] * len(labels))[i]
        buttons.append(dict(label=f"{prefix}{lab}", method="update", args=[{"visible": vis}, lay]))
    fig.update_layout(updatemenus=list(fig.layout.updatemenus or ()) + [dict(
        buttons=buttons, active=active, direction="down", x=x, xanchor="right", y=y, yanchor="top",
        showactive=True)])
    for tr, v in zip(fig.data, masks[active]):
        tr.visible = v
    return fig


def add_slider(fig, labels, masks, *, active=0, prefix="", layout_updates=None):
    """Add a slider whose steps switch trace visibility (works in static HTML)."""
    steps = []
    for i, (lab, vis) in enumerate(zip(labels, masks)):
        lay = (layout_updates or [{}] * len(labels))[i]
        steps.append(dict(label=str(lab), method="update", args=[{"visible": vis}, lay]))
    fig.update_layout(sliders=[dict(active=active, steps=steps, currentvalue=dict(prefix=prefix),
                                    pad=dict(t=50), x=0.02, len=0.96)])
    for tr, v in zip(fig.data, masks[active]):
        tr.visible = v
    fig.update_layout(height=HEIGHT + 80, margin=dict(b=110))
    return fig


def _fmt_alpha(a):
    a = float(a)
    if a == 0:
        return "0"
    if abs(a) < 1e-2 or abs(a) >= 1e3:
        return f"{a:.2g}".replace("e-0", "e-").replace("e+0", "e+")
    return f"{a:.3g}"


# --------------------------------------------------------------------------- tables
def table(df, title="", *, digits=3, height=None):
    """A plain ``go.Table`` of a DataFrame (floats rounded to ``digits`` significant digits)."""
    df = _as_frame(df, "table")

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return str(v)
            return f"{v:.{digits}g}" if abs(v) < 10 ** (digits + 3) else f"{v:,.0f}"
        return str(v)

    cells = [[fmt(v) for v in df[c]] for c in df.columns]
    fig = go.Figure(go.Table(header=dict(values=[f"<b>{c}</b>" for c in df.columns], align="left",
                                         fill_color="#f0f0f0"),
                             cells=dict(values=cells, align="left")))
    _layout(fig, title)
    # title margin + header + rows of ~20 px per wrapped text line (a column of a ~1000 px wide
    # table holds about 140 / n_columns characters per line); longer tables scroll
    top = 60 if title else 30
    per_line = max(8, 140 // max(1, len(df.columns)))
    lines = [max(math.ceil(len(col[r]) / per_line) for col in cells) for r in range(len(df))]
    est = top + 40 + sum(20 * n + 8 for n in lines)
    fig.update_layout(margin=dict(t=top, b=10), height=height or min(900, est))
    return fig


# --------------------------------------------------------------------------- intrinsic dimension
def local_id_histogram(local, *, global_estimates=None, title="Local intrinsic dimension", nbins=40):
    """Histogram of pointwise (local) intrinsic-dimension estimates, one per estimator (dropdown).

    Parameters
    ----------
    local : dict of str -> array, or DataFrame
        Per-point estimates for each estimator: a dict, a long table with columns
        ``estimator`` and ``local_id``, or the wide table of
        :func:`rae_explore.intrinsic_dim.local_id` (one column per estimator).
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
    fig = go.Figure()
    groups = []
    for i, (name, vals) in enumerate(local.items()):
        v = np.asarray(vals, dtype=float)
        v = v[np.isfinite(v)]
        idx = [len(fig.data)]
        fig.add_trace(go.Histogram(x=v, nbinsx=nbins, name=str(name), marker_color=_PALETTE[i % len(_PALETTE)],
                                   opacity=0.85, hovertemplate="ID %{x}<br>%{y} points<extra>" + str(name) + "</extra>"))
        med = float(np.median(v)) if len(v) else float("nan")
        g = (global_estimates or {}).get(name, med)
        label = "global estimate" if global_estimates and name in global_estimates else "median"
        idx.append(len(fig.data))
        fig.add_trace(go.Scatter(x=[g, g], y=[0, 1], yaxis="y2", mode="lines", name=f"{name}: {label} {g:.1f}",
                                 line=dict(color="black", dash="dash"), hoverinfo="name"))
        groups.append(idx)
    fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False), bargap=0.02)
    _layout(fig, title, "local intrinsic dimension", "points")
    if len(groups) > 1:
        add_dropdown(fig, [str(k) for k in local], _visibility_steps(groups, len(fig.data)), prefix="estimator: ")
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
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name=name or ytitle, line=dict(color=_PALETTE[0])))
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
    _add_vlines(fig, reference or {})
    _layout(fig, title, xtitle, ytitle)
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def _add_vlines(fig, lines, y=(0, 1)):
    """Vertical lines as legend-toggled traces on a hidden [0, 1] axis (shapes cannot be toggled)."""
    if not lines:
        return
    fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True))
    for i, (label, v) in enumerate(lines.items()):
        if v is None or not np.isfinite(v):
            continue
        fig.add_trace(go.Scatter(x=[v, v], y=list(y), yaxis="y2", mode="lines", name=f"{label} = {v:.1f}",
                                 legendgroup="intrinsic dimension", legendgrouptitle_text="intrinsic dimension",
                                 line=dict(color=qualitative.Dark2[i % 8], dash="dot", width=1.5),
                                 hovertemplate=f"{label}: {v:.2f}<extra></extra>"))


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
        :func:`rae_explore.dimension_knee.loss_curve`'s table (``kind``, ``n_components`` and
        loss columns).
    knees : dict of str -> int or None, optional
        ``{kind: knee dimension}`` (:func:`rae_explore.dimension_knee.loss_knees`).
    id_lines : dict of str -> float, optional
    """
    df = _as_frame(curve, "loss_curves")
    _require_columns(df, [group, x], "loss_curves")
    columns = [c for c in columns if c in df.columns]
    if not columns:
        raise ValueError(f"loss_curves: no loss column in {list(df.columns)}")
    labels = {"test_fvu": "test loss (fraction of variance unexplained)", "train_fvu": "train loss (FVU)",
              "test_loss": "test loss (MSE per element)", "train_loss": "train loss (MSE per element)"}
    knees = knees or {}
    fig = go.Figure()
    groups = [[] for _ in columns]
    for ci, c in enumerate(columns):
        for i, (kind, g) in enumerate(df.groupby(group, sort=False)):
            g = g.sort_values(x)
            color = _PALETTE[(i + 3) % len(_PALETTE)]
            groups[ci].append(len(fig.data))
            fig.add_trace(go.Scatter(x=g[x], y=g[c], mode="lines+markers", name=f"{kind}", legendgroup=str(kind),
                                     line=dict(color=color),
                                     hovertemplate=f"<b>{kind}</b><br>dim=%{{x}}<br>%{{y:.4g}}<extra></extra>"))
            k = knees.get(kind)
            if k is not None and np.isfinite(k) and (g[x] == k).any():
                groups[ci].append(len(fig.data))
                fig.add_trace(go.Scatter(x=[k], y=[float(g.loc[g[x] == k, c].iloc[0])], mode="markers+text",
                                         name=f"{kind} knee = {k:g}", legendgroup=str(kind),
                                         text=[f"{kind} knee {k:g}"], showlegend=False,
                                         textposition="top right" if i % 2 == 0 else "bottom left",
                                         marker=dict(symbol="x", size=14, color=color, line=dict(width=2))))
    n_curves = len(fig.data)
    _add_vlines(fig, id_lines or {})
    always = list(range(n_curves, len(fig.data)))
    _layout(fig, title, "hidden dimension (log scale)", labels.get(columns[0], columns[0]))
    fig.update_xaxes(type="log", tickvals=sorted(df[x].unique()))
    if len(columns) > 1:
        add_dropdown(fig, [labels.get(c, c) for c in columns], _visibility_steps(groups, len(fig.data), always),
                     layout_updates=[{"yaxis.title.text": labels.get(c, c)} for c in columns])
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
    df = _as_frame(df, "recommended_dims")
    _require_columns(df, [label, value] + ([group] if group else []), "recommended_dims")
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
                             textposition="outside", marker_color=_PALETTE[i % len(_PALETTE)], cliponaxis=False,
                             showlegend=bool(group), hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    if d:
        fig.add_vline(x=d, line=dict(color="gray", dash="dot"), annotation_text=f"original d={d}")
    _layout(fig, title, "dimension", None)
    fig.update_xaxes(range=[0, max(float(df[value].max()), d or 0) * 1.45])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(260, 100 + 28 * len(df)))
    return fig


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
    df = _as_frame(df, "encoder_spectrum")
    _require_columns(df, [by, "index", value], "encoder_spectrum")
    keys = sorted(df[by].unique(), key=float)
    cols = _lambda_colors(keys)
    fig = go.Figure()
    always = []
    for name, sv in (reference or {}).items():
        sv = np.asarray(sv, dtype=float)
        always.append(len(fig.data))
        fig.add_trace(go.Scatter(x=np.arange(1, len(sv) + 1), y=sv, mode="lines", name=str(name),
                                 line=dict(color="black", dash="dash", width=2)))
    groups = []
    for key, c in zip(keys, cols):
        g = df[df[by] == key].sort_values("index")
        groups.append([len(fig.data)])
        fig.add_trace(go.Scatter(x=g["index"] + (1 if g["index"].min() == 0 else 0), y=g[value], mode="lines+markers",
                                 marker=dict(size=4), name=f"{by_label}={_fmt_alpha(key)}", line=dict(color=c),
                                 hovertemplate=f"{by_label}={_fmt_alpha(key)}<br>σ_%{{x}} = %{{y:.4g}}<extra></extra>"))
    _layout(fig, title, "singular value index (descending)", "singular value")
    fig.update_yaxes(type="log")
    labels = ["all"] + [_fmt_alpha(k) for k in keys]
    masks = [[True] * len(fig.data)] + _visibility_steps(groups, len(fig.data), always)
    add_slider(fig, labels, masks, prefix=f"{by_label} = ")
    return fig


def _lambda_colors(keys):
    n = len(keys)
    return sample_colorscale("Viridis", [i / max(n - 1, 1) for i in range(n)]) if n else []


def condition_vs_lambda(df, *, by="alpha", y="condition_number", group="variant", title="Condition number against λ"):
    """Encoder condition number against the penalty weight λ (log-log), one line per variant.

    ``df`` has columns ``alpha``, ``condition_number`` and optionally ``variant`` (e.g. "penalty on
    encoder and decoder" vs "encoder only"); λ = 0 is drawn at the left edge of the log axis.
    """
    df = _as_frame(df, "condition_vs_lambda")
    _require_columns(df, [by, y], "condition_vs_lambda")
    fig = go.Figure()
    groups = df.groupby(group, sort=False) if group in df.columns else [("RAE", df)]
    for i, (name, g) in enumerate(groups):
        g = g.sort_values(by)
        fig.add_trace(go.Scatter(x=_positive_alpha(g[by]), y=g[y], mode="lines+markers", name=str(name),
                                 customdata=g[by], line=dict(color=_PALETTE[(i + 3) % len(_PALETTE)]),
                                 hovertemplate="λ=%{customdata:.2g}<br>κ=%{y:.4g}<extra>" + str(name) + "</extra>"))
    _layout(fig, title, "λ (penalty weight, log scale)", "condition number κ = σ_max / σ_min")
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
    df = _as_frame(df, "accuracy_vs_condition")
    _require_columns(df, [x], "accuracy_vs_condition")
    metrics = metric_columns(df)
    if not metrics:
        raise ValueError(f"accuracy_vs_condition: no metric columns (top_k@k or n-R@m) in {list(df.columns)}")
    fig = go.Figure()
    groups = [[] for _ in metrics]
    parts = list(df.groupby(group, sort=False)) if group in df.columns else [("encoders", df)]
    for mi, m in enumerate(metrics):
        for gi, (name, g) in enumerate(parts):
            g = g.sort_values(x)
            lam = g[by] if by in g.columns else np.full(len(g), np.nan)
            groups[mi].append(len(fig.data))
            fig.add_trace(go.Scatter(x=g[x], y=g[m], mode="lines+markers", name=str(name), legendgroup=str(name),
                                     showlegend=True, customdata=np.asarray(lam, dtype=float),
                                     marker=dict(size=8), line=dict(color=_PALETTE[(gi + 3) % len(_PALETTE)]),
                                     hovertemplate="κ=%{x:.4g}<br>" + metric_label(m) +
                                     "=%{y:.3f}<br>λ=%{customdata:.2g}<extra>" + str(name) + "</extra>"))
    _layout(fig, title, "condition number κ (log scale)", metric_label(metrics[0]))
    fig.update_xaxes(type="log")
    if len(metrics) > 1:
        add_dropdown(fig, [metric_label(m) for m in metrics], _visibility_steps(groups, len(fig.data)),
                     layout_updates=[{"yaxis.title.text": metric_label(m)} for m in metrics], prefix="metric: ")
    return fig


def trained_vs_closed_form(df, *, by="alpha", index="index", trained="trained", closed_form="closed_form",
                           title="Trained encoder against the closed-form optimum", by_label="λ"):
    """Singular values of the trained encoder beside the closed-form optimum, with a slider over λ.

    ``df``: long format with columns ``alpha``, ``index``, ``trained``, ``closed_form``.
    """
    df = _as_frame(df, "trained_vs_closed_form")
    _require_columns(df, [by, index, trained, closed_form], "trained_vs_closed_form")
    keys = sorted(df[by].unique(), key=float)
    fig = go.Figure()
    groups = []
    for key in keys:
        g = df[df[by] == key].sort_values(index)
        xi = g[index] + (1 if g[index].min() == 0 else 0)
        groups.append([len(fig.data), len(fig.data) + 1])
        fig.add_trace(go.Scatter(x=xi, y=g[closed_form], mode="lines", name="closed form",
                                 line=dict(color="black", dash="dash"), legendgroup="cf"))
        fig.add_trace(go.Scatter(x=xi, y=g[trained], mode="markers", name="trained (Adam)",
                                 marker=dict(color=_PALETTE[3], size=7), legendgroup="tr"))
    _layout(fig, title, "singular value index (descending)", "singular value")
    fig.update_yaxes(type="log")
    # lambda = 0 does not fix the encoder's per-direction scale, so open on the first positive one
    first_pos = next((i for i, k in enumerate(keys) if float(k) > 0), 0)
    add_slider(fig, [_fmt_alpha(k) for k in keys], _visibility_steps(groups, len(fig.data)), prefix=f"{by_label} = ",
               active=first_pos)
    return fig


def weight_norms(df, *, by="alpha", x="step", columns=("encoder_norm", "decoder_norm"),
                 title="Encoder and decoder norms during training", by_label="λ"):
    """Frobenius norms of encoder and decoder over training steps, with a slider over λ.

    ``df``: long format, one row per (λ, epoch) with ``alpha``, ``step``, ``encoder_norm``,
    ``decoder_norm`` (an RAE's ``history_`` with the λ added). Shows the drift of the
    encoder-only penalty: the encoder shrinks while the decoder grows to compensate.
    """
    df = _as_frame(df, "weight_norms")
    _require_columns(df, [by, x, *columns], "weight_norms")
    keys = sorted(df[by].unique(), key=float)
    fig = go.Figure()
    groups = []
    styles = {columns[0]: dict(color=_PALETTE[3]), columns[-1]: dict(color=_PALETTE[0], dash="dash")}
    for key in keys:
        g = df[df[by] == key].sort_values(x)
        groups.append([])
        for c in columns:
            groups[-1].append(len(fig.data))
            fig.add_trace(go.Scatter(x=g[x], y=g[c], mode="lines", name=c.replace("_", " "), legendgroup=c,
                                     line=styles.get(c, {}),
                                     hovertemplate=f"{by_label}={_fmt_alpha(key)}<br>step %{{x}}<br>%{{y:.4g}}"
                                     "<extra>" + c + "</extra>"))
    _layout(fig, title, "optimiser step", "Frobenius norm")
    fig.update_yaxes(type="log")
    # open on the largest lambda, where the drift is largest
    add_slider(fig, [_fmt_alpha(k) for k in keys], _visibility_steps(groups, len(fig.data)), prefix=f"{by_label} = ",
               active=len(keys) - 1)
    return fig


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
    df = _as_frame(df, "recall_curves")
    _require_columns(df, [x, method], "recall_curves")
    metrics = list(metrics) if metrics else metric_columns(df)
    if not metrics:
        raise ValueError(f"recall_curves: no metric columns (top_k@k or n-R@m) in {list(df.columns)}")
    _require_columns(df, metrics, "recall_curves")
    fig = go.Figure()
    methods = list(dict.fromkeys(df[method]))
    groups = [[] for _ in metrics]
    for mi, m in enumerate(metrics):
        for i, meth in enumerate(methods):
            g = df[df[method] == meth].sort_values(x)
            ratio = (d / g[x].astype(float)) if d else np.full(len(g), np.nan)
            groups[mi].append(len(fig.data))
            fig.add_trace(go.Scatter(
                x=g[x], y=g[m], mode="lines+markers", name=str(meth), legendgroup=str(meth),
                line=dict(color=method_color(meth, i)), customdata=np.asarray(ratio, dtype=float),
                hovertemplate=f"<b>{meth}</b><br>dim=%{{x}}" + (" (%{customdata:.1f}x smaller)" if d else "")
                + f"<br>{metric_label(m)}=%{{y:.3f}}<extra></extra>"))
    n_curves = len(fig.data)
    _add_vlines(fig, id_lines or {})
    always = list(range(n_curves, len(fig.data)))
    _layout(fig, title, "reduced dimension (log scale)", metric_label(metrics[0]))
    fig.update_xaxes(type="log", tickvals=sorted(df[x].unique()))
    fig.update_yaxes(range=[0, 1.02])
    if len(metrics) > 1:
        add_dropdown(fig, [metric_label(m) for m in metrics], _visibility_steps(groups, len(fig.data), always),
                     layout_updates=[{"yaxis.title.text": metric_label(m)} for m in metrics], prefix="metric: ")
    return fig


def timings(df, *, x="n_components", method="method", columns=("fit_s", "transform_s"), title="Time per method"):
    """Fit and transform time against dimension, one line per method; a dropdown switches fit/transform."""
    df = _as_frame(df, "timings")
    columns = [c for c in columns if c in df.columns]
    if not columns:
        raise ValueError(f"timings: none of the time columns {list(columns)} in {list(df.columns)}")
    _require_columns(df, [x, method], "timings")
    labels = {"fit_s": "fit time (s)", "transform_s": "transform time (s)"}
    fig = go.Figure()
    methods = list(dict.fromkeys(df[method]))
    groups = [[] for _ in columns]
    for ci, c in enumerate(columns):
        for i, meth in enumerate(methods):
            g = df[df[method] == meth].sort_values(x)
            groups[ci].append(len(fig.data))
            fig.add_trace(go.Scatter(x=g[x], y=g[c], mode="lines+markers", name=str(meth), legendgroup=str(meth),
                                     line=dict(color=method_color(meth, i)),
                                     hovertemplate=f"<b>{meth}</b><br>dim=%{{x}}<br>%{{y:.3g}} s<extra></extra>"))
    _layout(fig, title, "reduced dimension (log scale)", labels.get(columns[0], columns[0]))
    fig.update_xaxes(type="log", tickvals=sorted(df[x].unique()))
    fig.update_yaxes(type="log")
    if len(columns) > 1:
        add_dropdown(fig, [labels.get(c, c) for c in columns], _visibility_steps(groups, len(fig.data)),
                     layout_updates=[{"yaxis.title.text": labels.get(c, c)} for c in columns])
    return fig


# ---- index pipelines (issue 6) ----
# Figures for rae_explore.pipelines rows: recall vs QPS with Pareto frontiers, index size vs
# recall, build time with and without compression, and the paper-style table. Row columns:
# pipeline, reducer, n_components, index, search_params, "<n>-R@<m>" (and "rerank_<n>-R@<m>"),
# qps (rerank_qps), index_bytes, cr, build_time_s, reducer_fit_time_s, base_reduce_time_s.
_PIPE_RECALL_RE = re.compile(r"^(rerank_)?(\d+)-R@(\d+)$")


def _pipeline_metrics(df, metrics):
    if metrics:
        _require_columns(df, list(metrics), "pipeline figure")
        return list(metrics)
    plain = [c for c in metric_columns(df) if _RECALL_RE.match(str(c))]
    rerank = [c for c in df.columns if str(c).startswith("rerank_") and _RECALL_RE.match(str(c)[7:])]
    out = plain + sorted(rerank, key=lambda c: tuple(int(g) for g in _RECALL_RE.match(c[7:]).groups()))
    if not out:
        raise ValueError(f"pipeline figure: no n-R@m columns in {list(df.columns)}")
    return out


def _pipeline_label(col):
    m = _PIPE_RECALL_RE.match(str(col))
    if m and m.group(1):
        return f"{m.group(2)}-recall@{m.group(3)} (re-ranked)"
    return metric_label(col)


def _ok_rows(df):
    return df[df["status"] == "ok"] if "status" in df.columns else df


def _pipeline_order(df):
    """Pipelines sorted by index string, then reducer, then dimension (legend entries cluster by index)."""
    first = df.drop_duplicates("pipeline")
    first = first.sort_values(["index", "reducer", "n_components"], ascending=[True, True, False], kind="stable")
    return list(first["pipeline"])


def _variant_styles(df):
    """Per pipeline: a colour per reducer (lighter for smaller dimensions) and a dash/symbol per index string."""
    one = df.drop_duplicates("pipeline")
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    symbols = ["circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down", "pentagon"]
    indexes = list(dict.fromkeys(sorted(one["index"])))
    reducers = list(dict.fromkeys(one["reducer"]))
    styles = {}
    for _, r in one.iterrows():
        dims = sorted(one[one["reducer"] == r["reducer"]]["n_components"].unique(), reverse=True)
        rank = dims.index(r["n_components"])
        color = "#555555" if r["reducer"] == "none" else method_color(r["reducer"], reducers.index(r["reducer"]))
        j = indexes.index(r["index"])
        styles[r["pipeline"]] = dict(color=color, opacity=max(0.35, 1 - 0.3 * rank), dash=dashes[j % len(dashes)],
                                     symbol=symbols[j % len(symbols)])
    return styles


def pipeline_recall_qps(df, *, metrics=None, title="Recall against queries per second"):
    """Recall vs QPS of every pipeline's search-parameter sweep, with its Pareto frontier.

    Each pipeline is a line through its Pareto-optimal settings (no other setting of the same
    pipeline has both a higher recall and a higher QPS) plus faint markers for the dominated
    ones; hover shows the search parameters. A dropdown picks the recall column (re-ranked
    columns use ``rerank_qps``); the legend toggles pipelines.

    Parameters
    ----------
    df : DataFrame or list of dict
        Rows of :func:`rae_explore.pipelines.sweep_pipeline` / ``run_grid``.
    metrics : list of str, optional
        Recall columns; default every ``n-R@m`` then every ``rerank_n-R@m`` column.

    Returns
    -------
    go.Figure
    """
    from .pipelines import pareto_frontier

    df = _ok_rows(_as_frame(df, "pipeline_recall_qps"))
    _require_columns(df, ["pipeline", "index", "reducer", "n_components", "qps", "search_params"], "pipeline_recall_qps")
    metrics = _pipeline_metrics(df, metrics)
    pipes = _pipeline_order(df)
    style = _variant_styles(df)
    fig = go.Figure()
    groups = [[] for _ in metrics]
    for mi, m in enumerate(metrics):
        qcol = "rerank_qps" if m.startswith("rerank_") else "qps"
        _require_columns(df, [qcol], "pipeline_recall_qps")
        front = pareto_frontier(df[df[m].notna()], x=m, y=qcol, by="pipeline")
        for p in pipes:
            g = front[front["pipeline"] == p]
            if g.empty:
                continue
            hover = (f"<b>{p}</b><br>%{{customdata}}<br>{_pipeline_label(m)}=%{{x:.3f}}<br>"
                     "%{y:,.0f} queries/s<extra></extra>")
            on = g[g["pareto"]].sort_values(m)
            off = g[~g["pareto"]]
            st = style[p]
            groups[mi].append(len(fig.data))
            fig.add_trace(go.Scatter(x=on[m], y=on[qcol], mode="lines+markers", name=p, legendgroup=p,
                                     opacity=st["opacity"], line=dict(color=st["color"], dash=st["dash"]),
                                     marker=dict(symbol=st["symbol"], size=8), customdata=on["search_params"],
                                     hovertemplate=hover))
            groups[mi].append(len(fig.data))
            fig.add_trace(go.Scatter(x=off[m], y=off[qcol], mode="markers", name=p, legendgroup=p,
                                     showlegend=False, opacity=0.3 * st["opacity"],
                                     marker=dict(color=st["color"], symbol=st["symbol"], size=7),
                                     customdata=off["search_params"], hovertemplate=hover))
    _layout(fig, title, _pipeline_label(metrics[0]), "queries per second (log scale)")
    fig.update_yaxes(type="log", dtick=1)
    fig.update_xaxes(range=[0, 1.02])
    if len(metrics) > 1:
        add_dropdown(fig, [_pipeline_label(m) for m in metrics], _visibility_steps(groups, len(fig.data)),
                     layout_updates=[{"xaxis.title.text": _pipeline_label(m)} for m in metrics], prefix="recall: ")
    return fig


def pipeline_size_recall(df, *, metrics=None, title="Index size against recall"):
    """Index size (serialised, log scale) against recall, one point per pipeline at its best setting.

    Colour = reducer, marker symbol = index string, label = reduced dimension; the hover gives
    the compression ratio and the search parameters of the best setting. A dropdown picks the
    recall column; the legend toggles reducers.
    """
    df = _ok_rows(_as_frame(df, "pipeline_size_recall"))
    _require_columns(df, ["pipeline", "reducer", "index", "n_components", "index_bytes", "cr", "search_params"],
                     "pipeline_size_recall")
    metrics = _pipeline_metrics(df, metrics)
    style = _variant_styles(df)
    reducers = list(dict.fromkeys(df["reducer"]))
    indexes = list(dict.fromkeys(sorted(df["index"])))
    fig = go.Figure()
    groups = [[] for _ in metrics]
    for mi, m in enumerate(metrics):
        best = df.loc[df[df[m].notna()].groupby("pipeline")[m].idxmax()]
        for red in reducers:
            for ix in indexes:
                g = best[(best["reducer"] == red) & (best["index"] == ix)].sort_values("n_components")
                if g.empty:
                    continue
                st = style[g["pipeline"].iloc[0]]
                groups[mi].append(len(fig.data))
                fig.add_trace(go.Scatter(
                    x=g["index_bytes"] / 2**20, y=g[m], mode="markers+text", name=f"{red} · {ix}",
                    legendgroup=str(red), legendgrouptitle_text=str(red), text=g["n_components"].astype(str),
                    textposition="top center",
                    marker=dict(color=st["color"], size=11, symbol=st["symbol"]),
                    customdata=np.stack([g["pipeline"], g["cr"].round(1), g["search_params"]], axis=1),
                    hovertemplate=("<b>%{customdata[0]}</b><br>%{x:.3g} MB (cr %{customdata[1]}x)<br>"
                                   f"{_pipeline_label(m)}=%{{y:.3f}}<br>best at %{{customdata[2]}}<extra></extra>")))
    _layout(fig, title, "index size (MB, serialised; log scale)", _pipeline_label(metrics[0]))
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 1.05])
    if len(metrics) > 1:
        add_dropdown(fig, [_pipeline_label(m) for m in metrics], _visibility_steps(groups, len(fig.data)),
                     layout_updates=[{"yaxis.title.text": _pipeline_label(m)} for m in metrics], prefix="recall: ")
    return fig


def pipeline_build_time(df, *, title="Index build time with and without compression"):
    """Grouped bars: build time per index string, one bar per reducer and dimension.

    A dropdown switches between the index's train+add time (the paper's train+index time), the
    same plus the reducer's fit and the base's reduction (the whole pipeline), and the reducer
    fit alone. Hover gives the speed-up against the uncompressed index of the same string.
    """
    df = _ok_rows(_as_frame(df, "pipeline_build_time"))
    _require_columns(df, ["pipeline", "reducer", "n_components", "index", "build_time_s", "reducer_fit_time_s",
                          "base_reduce_time_s"], "pipeline_build_time")
    one = df.drop_duplicates("pipeline").copy()
    one["total_time_s"] = one["build_time_s"] + one["reducer_fit_time_s"] + one["base_reduce_time_s"]
    one["variant"] = np.where(one["reducer"] == "none", "uncompressed (" + one["n_components"].astype(str) + ")",
                              one["reducer"] + "-" + one["n_components"].astype(str))
    columns = [("build_time_s", "train + add time (s)"), ("total_time_s", "reducer fit + reduce + train + add (s)"),
               ("reducer_fit_time_s", "reducer fit time (s)")]
    style = _variant_styles(one)
    indexes = list(dict.fromkeys(sorted(one["index"])))
    variants = list(dict.fromkeys(one.sort_values(["reducer", "n_components"], ascending=[True, False])["variant"]))
    variants.sort(key=lambda v: not v.startswith("uncompressed"))
    fig = go.Figure()
    groups = [[] for _ in columns]
    for ci, (c, lab) in enumerate(columns):
        base = one[one["reducer"] == "none"].set_index("index")[c]
        for i, v in enumerate(variants):
            g = one[one["variant"] == v].set_index("index").reindex(indexes)
            speedup = (base.reindex(indexes) / g[c]).to_numpy(dtype=float)
            st = style[one[one["variant"] == v]["pipeline"].iloc[0]]
            groups[ci].append(len(fig.data))
            fig.add_trace(go.Bar(x=indexes, y=g[c], name=v, legendgroup=v, marker_color=st["color"],
                                 marker_opacity=st["opacity"], customdata=speedup,
                                 hovertemplate=(f"<b>{v}</b> %{{x}}<br>%{{y:.3g}} s<br>"
                                                "%{customdata:.2f}x faster than uncompressed<extra></extra>")))
    _layout(fig, title, "faiss index", columns[0][1], barmode="group")
    add_dropdown(fig, [lab for _, lab in columns], _visibility_steps(groups, len(fig.data)),
                 layout_updates=[{"yaxis.title.text": lab} for _, lab in columns], prefix="time: ")
    return fig


def pipeline_table(df, *, by="index", title="Pipelines (autoencoder paper's columns)", digits=3):
    """The paper-style table (:func:`rae_explore.pipelines.paper_table`) with a dropdown per ``by`` value.

    The first entry shows every row; each other entry one index string (or whatever ``by`` names).
    """
    df = _as_frame(df, "pipeline_table")
    _require_columns(df, [by], "pipeline_table")
    keys = ["all"] + list(dict.fromkeys(df[by]))
    fig = go.Figure()
    for key in keys:
        sub = df if key == "all" else df[df[by] == key]
        tab = table(sub, digits=digits).data[0]
        tab.columnwidth = [2.4 if c in ("pipeline", "search_params") else 1.6 if c == "index" else 1
                           for c in sub.columns]
        fig.add_trace(tab)
    _layout(fig, title)
    fig.update_layout(height=min(HEIGHT + 200, 110 + 28 * (len(df) + 1)))
    masks = _visibility_steps([[i] for i in range(len(keys))], len(keys))
    add_dropdown(fig, [f"{by}: {k}" for k in keys], masks, y=1.12)
    return fig
