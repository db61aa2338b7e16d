"""Figures of notebook 04 (index pipelines): recall against QPS, index size, build time, the paper's table."""

import re

import numpy as np
import plotly.graph_objects as go

from ...results import ok_rows
from .base import (
    HEIGHT,
    RECALL_RE,
    as_frame,
    layout,
    method_color,
    metric_columns,
    metric_label,
    require_columns,
    switchable,
    table,
)

# ---- index pipelines (rae_explore.index) ----
# Figures for rae_explore.index.factory rows: recall vs QPS with Pareto frontiers, index size vs
# recall, build time with and without compression, and the paper-style table. Row columns:
# pipeline, reducer, n_components, index, search_params, "<n>-R@<m>" (and "rerank_<n>-R@<m>"),
# qps (rerank_qps), index_bytes, cr, build_time_s, reducer_fit_time_s, base_reduce_time_s.
_PIPE_RECALL_RE = re.compile(r"^(rerank_)?(\d+)-R@(\d+)$")


def _pipeline_metrics(df, metrics):
    if metrics:
        require_columns(df, list(metrics), "pipeline figure")
        return list(metrics)
    plain = [c for c in metric_columns(df) if RECALL_RE.match(str(c))]
    rerank = [c for c in df.columns if str(c).startswith("rerank_") and RECALL_RE.match(str(c)[7:])]
    out = plain + sorted(rerank, key=lambda c: tuple(int(g) for g in RECALL_RE.match(c[7:]).groups()))
    if not out:
        raise ValueError(f"pipeline figure: no n-R@m columns in {list(df.columns)}")
    return out


def _pipeline_label(col):
    m = _PIPE_RECALL_RE.match(str(col))
    if m and m.group(1):
        return f"{m.group(2)}-recall@{m.group(3)} (re-ranked)"
    return metric_label(col)


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
        Rows of :func:`rae_explore.index.measure.sweep_pipeline` / ``run_grid``.
    metrics : list of str, optional
        Recall columns; default every ``n-R@m`` then every ``rerank_n-R@m`` column.

    Returns
    -------
    go.Figure
    """
    from ...index.summaries import pareto_frontier

    df = ok_rows(as_frame(df, "pipeline_recall_qps"))
    require_columns(df, ["pipeline", "index", "reducer", "n_components", "qps", "search_params"], "pipeline_recall_qps")
    metrics = _pipeline_metrics(df, metrics)
    pipes = _pipeline_order(df)
    style = _variant_styles(df)

    def frontiers(m):
        qcol = "rerank_qps" if m.startswith("rerank_") else "qps"
        require_columns(df, [qcol], "pipeline_recall_qps")
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
            yield go.Scatter(x=on[m], y=on[qcol], mode="lines+markers", name=p, legendgroup=p,
                             opacity=st["opacity"], line=dict(color=st["color"], dash=st["dash"]),
                             marker=dict(symbol=st["symbol"], size=8), customdata=on["search_params"],
                             hovertemplate=hover)
            yield go.Scatter(x=off[m], y=off[qcol], mode="markers", name=p, legendgroup=p,
                             showlegend=False, opacity=0.3 * st["opacity"],
                             marker=dict(color=st["color"], symbol=st["symbol"], size=7),
                             customdata=off["search_params"], hovertemplate=hover)

    fig = switchable(go.Figure(), metrics, frontiers, labels=_pipeline_label, prefix="recall: ",
                     layout_updates=lambda m: {"xaxis.title.text": _pipeline_label(m)})
    layout(fig, title, _pipeline_label(metrics[0]), "queries per second (log scale)")
    fig.update_yaxes(type="log", dtick=1)
    fig.update_xaxes(range=[0, 1.02])
    return fig


def pipeline_size_recall(df, *, metrics=None, title="Index size against recall"):
    """Index size (serialised, log scale) against recall, one point per pipeline at its best setting.

    Colour = reducer, marker symbol = index string, label = reduced dimension; the hover gives
    the compression ratio and the search parameters of the best setting. A dropdown picks the
    recall column; the legend toggles reducers.
    """
    df = ok_rows(as_frame(df, "pipeline_size_recall"))
    require_columns(df, ["pipeline", "reducer", "index", "n_components", "index_bytes", "cr", "search_params"],
                     "pipeline_size_recall")
    metrics = _pipeline_metrics(df, metrics)
    style = _variant_styles(df)
    reducers = list(dict.fromkeys(df["reducer"]))
    indexes = list(dict.fromkeys(sorted(df["index"])))

    def best_points(m):
        best = df.loc[df[df[m].notna()].groupby("pipeline")[m].idxmax()]
        for red in reducers:
            for ix in indexes:
                g = best[(best["reducer"] == red) & (best["index"] == ix)].sort_values("n_components")
                if g.empty:
                    continue
                st = style[g["pipeline"].iloc[0]]
                yield go.Scatter(
                    x=g["index_bytes"] / 2**20, y=g[m], mode="markers+text", name=f"{red} · {ix}",
                    legendgroup=str(red), legendgrouptitle_text=str(red), text=g["n_components"].astype(str),
                    textposition="top center",
                    marker=dict(color=st["color"], size=11, symbol=st["symbol"]),
                    customdata=np.stack([g["pipeline"], g["cr"].round(1), g["search_params"]], axis=1),
                    hovertemplate=("<b>%{customdata[0]}</b><br>%{x:.3g} MB (cr %{customdata[1]}x)<br>"
                                   f"{_pipeline_label(m)}=%{{y:.3f}}<br>best at %{{customdata[2]}}<extra></extra>"))

    fig = switchable(go.Figure(), metrics, best_points, labels=_pipeline_label, prefix="recall: ",
                     layout_updates=lambda m: {"yaxis.title.text": _pipeline_label(m)})
    layout(fig, title, "index size (MB, serialised; log scale)", _pipeline_label(metrics[0]))
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 1.05])
    return fig


def pipeline_build_time(df, *, title="Index build time with and without compression"):
    """Grouped bars: build time per index string, one bar per reducer and dimension.

    A dropdown switches between the index's train+add time (the paper's train+index time), the
    same plus the reducer's fit and the base's reduction (the whole pipeline), and the reducer
    fit alone. Hover gives the speed-up against the uncompressed index of the same string.
    """
    df = ok_rows(as_frame(df, "pipeline_build_time"))
    require_columns(df, ["pipeline", "reducer", "n_components", "index", "build_time_s", "reducer_fit_time_s",
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

    def bars(column):
        c, _ = column
        base = one[one["reducer"] == "none"].set_index("index")[c]
        for v in variants:
            g = one[one["variant"] == v].set_index("index").reindex(indexes)
            speedup = (base.reindex(indexes) / g[c]).to_numpy(dtype=float)
            st = style[one[one["variant"] == v]["pipeline"].iloc[0]]
            yield go.Bar(x=indexes, y=g[c], name=v, legendgroup=v, marker_color=st["color"],
                         marker_opacity=st["opacity"], customdata=speedup,
                         hovertemplate=(f"<b>{v}</b> %{{x}}<br>%{{y:.3g}} s<br>"
                                        "%{customdata:.2f}x faster than uncompressed<extra></extra>"))

    fig = switchable(go.Figure(), columns, bars, labels=lambda c: c[1], prefix="time: ",
                     layout_updates=lambda c: {"yaxis.title.text": c[1]})
    layout(fig, title, "faiss index", columns[0][1], barmode="group")
    return fig


def pipeline_table(df, *, by="index", title="Pipelines (autoencoder paper's columns)", digits=3):
    """The paper-style table (:func:`rae_explore.index.summaries.paper_table`) with a dropdown per ``by`` value.

    The first entry shows every row; each other entry one index string (or whatever ``by`` names).
    """
    df = as_frame(df, "pipeline_table")
    require_columns(df, [by], "pipeline_table")
    keys = ["all"] + list(dict.fromkeys(df[by]))

    def tab(key):
        sub = df if key == "all" else df[df[by] == key]
        t = table(sub, digits=digits).data[0]
        t.columnwidth = [2.4 if c in ("pipeline", "search_params") else 1.6 if c == "index" else 1
                         for c in sub.columns]
        return [t]

    fig = switchable(go.Figure(), keys, tab, labels=lambda k: f"{by}: {k}", y=1.12)
    layout(fig, title)
    fig.update_layout(height=min(HEIGHT + 200, 110 + 28 * (len(df) + 1)))
    return fig


# ---- lattice codes against PQ at equal bits (the spreading-vectors table) ----
_PQ_RE = re.compile(r"(?:^|,)PQ(\d+)(?:x(\d+))?(?:np)?$")


def code_bits(index, bits=None):
    """Bits per vector of a code index string: ``bits`` for ``"Lattice{b}"`` rows (the budget),
    ``M * nbits`` for a trailing ``PQ{M}[x{nbits}]`` (nbits 8 by default), else None."""
    from ...index.lattice import lattice_bits

    b = lattice_bits(index)
    if b is not None:
        return int(bits) if bits is not None and bits == bits else b
    m = _PQ_RE.search(str(index))
    return None if m is None else int(m.group(1)) * int(m.group(2) or 8)


def lattice_comparison(df, *, metrics=("1-R@1", "1-R@10", "10-R@10")):
    """The spreading-vectors table: one row per (reducer, code family, bits), recalls as columns.

    Parameters
    ----------
    df : DataFrame or list of dict
        Pipeline rows (:func:`rae_explore.index.measure.evaluate_pipeline`,
        :func:`rae_explore.index.lattice.evaluate_lattice`); rows whose index is neither a
        lattice nor a PQ code are left out, and of a swept pipeline the best setting is kept.
    metrics : sequence of str
        Recall columns (those present are kept).

    Returns
    -------
    DataFrame
        ``reducer``, ``n_components``, ``code`` ("lattice" or "PQ"), ``bits``, ``pipeline`` and
        the recalls, sorted by bits then code.
    """
    import pandas as pd

    df = ok_rows(as_frame(df, "lattice_comparison"))
    require_columns(df, ["pipeline", "reducer", "n_components", "index"], "lattice_comparison")
    metrics = [m for m in metrics if m in df.columns]
    if not metrics:
        raise ValueError(f"lattice_comparison: none of the recall columns in {list(df.columns)}")
    from ...index.lattice import lattice_bits

    rows = []
    for _, r in df.iterrows():
        b = code_bits(r["index"], r.get("bits"))
        if b is None:
            continue
        rows.append({"reducer": r["reducer"], "n_components": r["n_components"],
                     "code": "lattice" if lattice_bits(r["index"]) is not None else "PQ", "bits": b,
                     "pipeline": r["pipeline"], **{m: r[m] for m in metrics}})
    cols = ["reducer", "n_components", "code", "bits", "pipeline", *metrics]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    out = out.sort_values(metrics[-1], ascending=False).drop_duplicates("pipeline")
    return out.sort_values(["bits", "code", "reducer"], kind="stable").reset_index(drop=True)[cols]


def lattice_recall_bits(df, *, metrics=("1-R@1", "1-R@10", "10-R@10"),
                        title="Lattice codes against PQ at equal bits"):
    """Recall against bits per vector: one line per (reducer, code), a dropdown over the recalls.

    Solid lines are lattice codes of the reduced, L2-normalised vectors; dashed lines PQ codes
    at the same number of bits (the spreading-vectors paper's comparison).
    """
    tab = lattice_comparison(df, metrics=metrics)
    if tab.empty:
        raise ValueError("lattice_recall_bits: no lattice or PQ rows to plot")
    metrics = [m for m in metrics if m in tab.columns]
    lines = list(dict.fromkeys(zip(tab["reducer"], tab["n_components"], tab["code"])))
    reducers = list(dict.fromkeys(tab["reducer"]))

    def traces(m):
        for red, nc, code in lines:
            g = tab[(tab["reducer"] == red) & (tab["n_components"] == nc) & (tab["code"] == code)]
            yield go.Scatter(x=g["bits"], y=g[m], mode="lines+markers", name=f"{red}-{nc} + {code}",
                             line=dict(color=method_color(red, reducers.index(red)),
                                       dash="solid" if code == "lattice" else "dash"),
                             customdata=g["pipeline"],
                             hovertemplate=f"%{{customdata}}<br>%{{x}} bits<br>{metric_label(m)}=%{{y:.3f}}"
                                           "<extra></extra>")

    fig = switchable(go.Figure(), metrics, traces, labels=metric_label, prefix="recall: ",
                     layout_updates=lambda m: {"yaxis.title.text": metric_label(m)})
    layout(fig, title, "bits per vector", metric_label(metrics[0]))
    fig.update_xaxes(type="log", dtick=np.log10(2), tickvals=sorted(set(tab["bits"])))
    fig.update_yaxes(range=[0, 1.05])
    return fig
