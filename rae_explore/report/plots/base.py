"""Plotly figure builders for the notebooks and reports.

Every builder takes plain data (a tidy ``pandas.DataFrame`` or arrays), returns a
``plotly.graph_objects.Figure`` and never shows or saves it. What a reader should be able to
flip through (a λ, an estimator, the k of top-k accuracy, fit vs transform time) is
precomputed into the figure and carried by plotly's own sliders, dropdowns and legend
toggles, so it still works in a static, offline HTML export where no Python runs.

In a notebook, call :func:`init_notebook` once before showing figures: it selects the
``"plotly_mimetype+notebook"`` renderer, which JupyterLab renders natively and which embeds
plotly.js once per notebook so that nbconvert's HTML works with no network.

Column conventions (those of :mod:`rae_explore.experiments.evaluate` and :mod:`rae_explore.intrinsic.estimate`):
``method``, ``n_components``, ``top_k@<k>``, ``<n>-R@<m>``, ``fit_s``, ``transform_s``,
``condition_number``, ``alpha`` (the RAE penalty weight λ).
"""

import logging
import math
import re

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

logger = logging.getLogger(__name__)

RENDERER = "plotly_mimetype+notebook"
"""plotly renderer the notebooks use: native in JupyterLab, plotly.js inlined for HTML export."""

CONFIG = {"displaylogo": False, "responsive": True}

TEMPLATE = "plotly_white"
HEIGHT = 460

PALETTE = qualitative.D3 + qualitative.Set2
FIXED_COLORS = {"pca": PALETTE[0], "rp": PALETTE[1], "rae": PALETTE[3], "umap": PALETTE[2],
                 "isomap": PALETTE[4], "mds": PALETTE[5], "lpp": PALETTE[6]}

TOPK_RE = re.compile(r"^top_k@(\d+)$")
RECALL_RE = re.compile(r"^(\d+)-R@(\d+)$")


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
    return FIXED_COLORS.get(str(method).lower(), PALETTE[(7 + i) % len(PALETTE)])


def layout(fig, title, xtitle=None, ytitle=None, **kw):
    fig.update_layout(title=dict(text=title, x=0.01, xanchor="left"), template=TEMPLATE, height=HEIGHT,
                      margin=dict(l=60, r=20, t=60 if title else 30, b=60), **kw)
    if xtitle is not None:
        fig.update_xaxes(title_text=xtitle)
    if ytitle is not None:
        fig.update_yaxes(title_text=ytitle)
    return fig


def require_columns(df, cols, what):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got {list(df.columns)}")


def as_frame(data, what):
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
    m = TOPK_RE.match(str(col))
    if m:
        return f"top-{m.group(1)} accuracy"
    m = RECALL_RE.match(str(col))
    if m:
        return f"{m.group(1)}-recall@{m.group(2)}"
    return str(col).replace("_", " ")


def metric_columns(df):
    """Columns of ``df`` holding neighbour-preservation metrics (``top_k@k`` first, by k; then ``n-R@m``)."""
    topk = sorted((c for c in df.columns if TOPK_RE.match(str(c))), key=lambda c: int(TOPK_RE.match(c).group(1)))
    rec = sorted((c for c in df.columns if RECALL_RE.match(str(c))),
                 key=lambda c: tuple(int(g) for g in RECALL_RE.match(c).groups()))
    return topk + rec


def visibility_steps(groups, n_traces, always=()):
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


def fmt_alpha(a):
    a = float(a)
    if a == 0:
        return "0"
    if abs(a) < 1e-2 or abs(a) >= 1e3:
        return f"{a:.2g}".replace("e-0", "e-").replace("e+0", "e+")
    return f"{a:.3g}"


# --------------------------------------------------------------------------- tables
def table(df, title="", *, digits=3, height=None):
    """A plain ``go.Table`` of a DataFrame (floats rounded to ``digits`` significant digits)."""
    df = as_frame(df, "table")

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
    layout(fig, title)
    # title margin + header + rows of ~20 px per wrapped text line (a column of a ~1000 px wide
    # table holds about 140 / n_columns characters per line); longer tables scroll
    top = 60 if title else 30
    per_line = max(8, 140 // max(1, len(df.columns)))
    lines = [max(math.ceil(len(col[r]) / per_line) for col in cells) for r in range(len(df))]
    est = top + 40 + sum(20 * n + 8 for n in lines)
    fig.update_layout(margin=dict(t=top, b=10), height=height or min(900, est))
    return fig


def add_vlines(fig, lines, y=(0, 1)):
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
