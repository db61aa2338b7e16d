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
``method``, ``dim``, ``top_k@<k>``, ``<n>-R@<m>``, ``fit_s``, ``transform_s``,
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
    return f"{a:.0e}".replace("e-0", "e-").replace("e+0", "e+") if (abs(a) < 1e-2 or abs(a) >= 1e3) else f"{a:g}"


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
    fig.update_layout(height=height or min(HEIGHT, 70 + 28 * (len(df) + 1)))
    return fig


# --------------------------------------------------------------------------- intrinsic dimension
def local_id_histogram(local, *, global_estimates=None, title="Local intrinsic dimension", nbins=40):
    """Histogram of pointwise (local) intrinsic-dimension estimates, one per estimator (dropdown).

    Parameters
    ----------
    local : dict of str -> array, or DataFrame with columns ``estimator`` and ``local_id``
        Per-point estimates for each estimator.
    global_estimates : dict of str -> float, optional
        Drawn as a dashed vertical line on the matching estimator's histogram.

    Returns
    -------
    go.Figure
    """
    import pandas as pd

    if isinstance(local, pd.DataFrame):
        _require_columns(local, ["estimator", "local_id"], "local_id_histogram")
        local = {k: g["local_id"].to_numpy() for k, g in local.groupby("estimator", sort=False)}
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
               name="", knee_label="knee", reference=None):
    """A curve over dimension with its knee marked (dashed vertical line and annotation).

    Parameters
    ----------
    x, y : array-like
        Dimensions and the quantity (loss, recall, ...).
    knee : float, optional
        The knee's x; not drawn if None.
    reference : dict of str -> float, optional
        More vertical lines (e.g. intrinsic-dimension estimates), dotted, toggled in the legend.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"knee_curve: x and y must be 1-d of the same non-zero length, got {x.shape} and {y.shape}")
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name=name or ytitle, line=dict(color=_PALETTE[0])))
    if knee is not None and np.isfinite(knee):
        fig.add_vline(x=float(knee), line=dict(color="crimson", dash="dash"),
                      annotation_text=f"{knee_label}: {float(knee):g}", annotation_position="top right")
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


def recommended_dims(df, *, d=None, title="Recommended dimension by view", bytes_per_value=4):
    """Horizontal bars: the dimension each view recommends, annotated with the compression it implies.

    Parameters
    ----------
    df : DataFrame with columns ``view`` and ``dim``
        One row per view (an ID estimator, the loss knee, the recall knee, ...).
    d : int, optional
        Original dimension; adds ``d/dim`` (compression ratio) and bytes per vector.
    """
    df = _as_frame(df, "recommended_dims")
    _require_columns(df, ["view", "dim"], "recommended_dims")
    df = df[np.isfinite(df["dim"].astype(float))]
    text = []
    for v in df["dim"]:
        t = f"{v:.1f}" if float(v) != int(v) else f"{int(v)}"
        if d:
            t += f"  ({d / float(v):.1f}x smaller, {int(math.ceil(v)) * bytes_per_value} B/vector)"
        text.append(t)
    fig = go.Figure(go.Bar(y=df["view"].astype(str), x=df["dim"], orientation="h", text=text,
                           textposition="outside", marker_color=_PALETTE[0], cliponaxis=False,
                           hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    if d:
        fig.add_vline(x=d, line=dict(color="gray", dash="dot"), annotation_text=f"original d={d}")
    _layout(fig, title, "dimension", None)
    fig.update_xaxes(range=[0, max(float(df["dim"].max()), d or 0) * 1.35])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(260, 80 + 40 * len(df)))
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
    add_slider(fig, [_fmt_alpha(k) for k in keys], _visibility_steps(groups, len(fig.data)), prefix=f"{by_label} = ")
    return fig


# --------------------------------------------------------------------------- recall curves
def recall_curves(df, *, x="dim", method="method", metrics=None, id_lines=None, d=None,
                  title="Neighbour preservation against compression dimension"):
    """Top-k accuracy / recall against the reduced dimension, one line per method.

    A dropdown picks the metric (``top_k@1`` … ``top_k@50``, ``1-R@10`` …); the legend toggles
    methods; intrinsic-dimension estimates appear as dotted vertical lines (toggle them as a
    group in the legend).

    Parameters
    ----------
    df : DataFrame
        One row per (method, dim) with columns ``method``, ``dim`` and metric columns.
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


def timings(df, *, x="dim", method="method", columns=("fit_s", "transform_s"), title="Time per method"):
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
