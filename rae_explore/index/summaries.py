"""Summaries of pipeline rows: Pareto frontiers, best settings at a target recall, build speed-ups, the paper's table."""

from pathlib import Path

import numpy as np

from ..results import read_rows
from ..results import ok_rows
from .measure import PAPER_RECALLS, recall_column


def pareto_frontier(rows, x="10-R@10", y="qps", by="pipeline"):
    """Mark the settings no other setting beats on both ``x`` and ``y`` (higher is better for both).

    Parameters
    ----------
    rows : pandas.DataFrame or list of dict
    x, y : str
        Columns, e.g. a recall column and ``"qps"``.
    by : str or None
        Frontier per group (per pipeline by default); None for one frontier over all rows.

    Returns
    -------
    pandas.DataFrame
        A copy with a boolean column ``pareto``.
    """
    import pandas as pd

    df = pd.DataFrame(rows).copy()
    for c in (x, y) + ((by,) if by else ()):
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the rows; available: {sorted(df.columns)}")
    df["pareto"] = False
    groups = df.groupby(by, sort=False).groups.values() if by else [df.index]
    for idx in groups:
        sub = df.loc[idx].sort_values([x, y], ascending=[False, False])
        best = -np.inf
        for i, val in zip(sub.index, sub[y]):
            if val > best:
                df.loc[i, "pareto"] = True
                best = val
    return df


def load_results(path):
    """Rows of a results file written by :func:`run_grid` (JSON lines) as a DataFrame."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {path}; run run_grid(configs, {str(path)!r}) first")
    return pd.DataFrame(read_rows(path))


def best_settings(rows, metric="10-R@10", target=0.9, qps="qps"):
    """Per pipeline, the fastest search setting whose ``metric`` reaches ``target``.

    Pipelines that never reach it keep their most accurate setting, flagged ``reached=False``
    (compare pipelines "at equal recall" only among rows with ``reached``).

    Returns
    -------
    pandas.DataFrame
        One row per pipeline (all row columns, plus ``reached``): those reaching the target
        first, each group sorted by ``qps`` descending.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    df = ok_rows(df)
    for c in ("pipeline", metric, qps):
        if c not in df.columns:
            raise ValueError(f"column {c!r} not in the rows; available: {sorted(df.columns)}")
    df = df[df[metric].notna()]  # e.g. rows evaluated without re-ranking, for a rerank_ metric
    if df.empty:
        raise ValueError(f"no row has a value for {metric!r}")
    out = []
    for _, g in df.groupby("pipeline", sort=False):
        ok = g[g[metric] >= target]
        best = ok.loc[ok[qps].idxmax()] if len(ok) else g.loc[g[metric].idxmax()]
        out.append(dict(best, reached=bool(len(ok))))
    return pd.DataFrame(out).sort_values(["reached", qps], ascending=[False, False]).reset_index(drop=True)


def build_speedups(rows, min_build_s=0.0):
    """Build time of every compressed pipeline against the uncompressed index of the same string.

    ``min_build_s`` drops index strings whose uncompressed build takes less than that (a Flat
    index "builds" in microseconds: its ratio is timer noise).

    Returns
    -------
    pandas.DataFrame
        pipeline, index, reducer, n_components, build_time_s, baseline_build_time_s (reducer
        "none", same index string), speedup (baseline / build_time_s, > 1 = faster), and
        ``speedup_with_reducer`` counting the reducer's fit and the base's reduction as well.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    df = ok_rows(df)
    df = df.drop_duplicates("pipeline")
    base = df[df["reducer"] == "none"].set_index("index")["build_time_s"]
    out = df[df["reducer"] != "none"][["pipeline", "index", "reducer", "n_components", "build_time_s",
                                       "reducer_fit_time_s", "base_reduce_time_s"]].copy()
    out["baseline_build_time_s"] = out["index"].map(base)
    out = out[~(out["baseline_build_time_s"] < min_build_s)]
    out["speedup"] = out["baseline_build_time_s"] / out["build_time_s"]
    total = out["build_time_s"] + out["reducer_fit_time_s"] + out["base_reduce_time_s"]
    out["speedup_with_reducer"] = out["baseline_build_time_s"] / total
    return out.reset_index(drop=True)


def paper_table(rows, rerank=False):
    """The autoencoder paper's table from rows: one line per pipeline and search setting.

    Columns: pipeline, index, search_params, the six recalls (``rerank_`` ones if ``rerank``), index size
    (MB), cr, ss, one-vector search (ms), overall search (s), train+index (s), reducer fit (s).
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    df = ok_rows(df)
    pre = "rerank_" if rerank else ""
    if rerank and "rerank_search_time_s" not in df.columns:
        raise ValueError("rerank=True but the rows have no re-ranked columns; evaluate with rerank_k=...")
    rec = [pre + recall_column(n, m) for n, m in PAPER_RECALLS if pre + recall_column(n, m) in df.columns]
    out = df[["pipeline", "index", "search_params"] + rec].copy()
    out["size_MB"] = df["index_bytes"] / 2**20
    out["cr"], out["ss"] = df["cr"], df["ss"]
    out["one_query_ms"] = df["one_query_ms"]
    out["search_s"] = df["rerank_search_time_s" if rerank else "search_time_s"]
    out["train_index_s"] = df["build_time_s"]
    out["reducer_fit_s"] = df["reducer_fit_time_s"]
    return out.reset_index(drop=True)
