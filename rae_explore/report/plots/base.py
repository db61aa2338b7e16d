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
import os
import re
import sys

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

    In a batch kernel (``RAE_EXPLORE_BATCH=1``) it also keeps jsonschema from loading its optional
    IRI format checker, ``rfc3987_syntax``, which builds a grammar at import (3.3 s, paid by every
    notebook of a report through plotly's nbformat check); nbformat never validates IRIs.

    Returns nothing (so that a notebook cell calling it prints nothing).
    """
    if os.environ.get("RAE_EXPLORE_BATCH") == "1" and "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: its import raises ImportError
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


def switchable(fig, keys, make_traces, *, control="dropdown", labels=str, layout_updates=None, prefix="",
               active=0, all_label=None, min_choices=2, then=None, **place):
    """Add one group of traces per key and a dropdown or slider that shows one group at a time.

    The pattern behind every "pick a metric / an estimator / a λ" figure: the traces of each
    key are added in turn (``make_traces(key)``), then a control with one entry per key makes
    that key's group visible. Traces outside every group (added before this call, or by
    ``then``) are shown on every entry. Works in static HTML (see :func:`add_dropdown`).

    Parameters
    ----------
    fig : go.Figure
    keys : sequence
        One control entry per key, in order.
    make_traces : callable
        ``make_traces(key)`` -> iterable of traces (possibly empty) forming that key's group.
    control : {"dropdown", "slider"}
    labels : callable or sequence of str
        Entry labels: ``labels(key)`` or one per key.
    layout_updates : callable or sequence of dict, optional
        Per-entry layout changes (e.g. ``lambda m: {"yaxis.title.text": label(m)}``).
    prefix : str
        Dropdown: prepended to each button label; slider: the current-value prefix.
    active : int
        The entry shown first (counting the ``all_label`` entry if any).
    all_label : str, optional
        If given, a first entry with this label shows every trace.
    min_choices : int
        The control is only added when it has at least this many entries (fewer: every trace
        stays visible and no control is drawn).
    then : callable, optional
        ``then(fig)`` runs after the groups are added and before the control, for traces that
        every entry shows (e.g. :func:`add_vlines`).
    **place
        Passed to :func:`add_dropdown` (``x``, ``y``).

    Returns
    -------
    go.Figure
    """
    keys = list(keys)
    groups = []
    for key in keys:
        start = len(fig.data)
        fig.add_traces(list(make_traces(key)))
        groups.append(range(start, len(fig.data)))
    grouped = {i for g in groups for i in g}
    if then is not None:
        then(fig)
    n = len(fig.data)
    always = [i for i in range(n) if i not in grouped]
    names = [labels(k) for k in keys] if callable(labels) else list(labels)
    masks = visibility_steps(groups, n, always)
    updates = None
    if layout_updates is not None:
        updates = [layout_updates(k) for k in keys] if callable(layout_updates) else list(layout_updates)
    if all_label is not None:
        names, masks = [all_label] + names, [[True] * n] + masks
        updates = None if updates is None else [{}] + updates
    if len(names) < min_choices:
        return fig
    if control == "slider":
        return add_slider(fig, names, masks, active=active, prefix=prefix, layout_updates=updates)
    if control == "dropdown":
        return add_dropdown(fig, names, masks, active=active, prefix=prefix, layout_updates=updates, **place)
    raise ValueError(f"switchable: control must be 'dropdown' or 'slider', got {control!r}")


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
