"""Figures and the claims check of notebook 05 (the compression paper's four learned compressors,
next to the search-oriented ones: the Catalyzer, CCST and NPP).

- :func:`training_curves`: per-epoch training and held-out losses of each autoencoder (DCEC's
  pretraining and clustering phases in sequence), with a dropdown for the loss terms, and
  :func:`training_summary`, the same fits as a table;
- :func:`paper_claims`: the three claims of Buyanov et al. checked on a pipeline grid's rows,
  as a table and as generated prose (the notebook's text states them whichever way they fall).
"""

import numpy as np
import plotly.graph_objects as go

from .base import layout, method_color, switchable

#: Per-epoch history entries drawn by :func:`training_curves`, in dropdown order, when present.
CURVE_TERMS = ("loss", "val_loss", "rec", "kl", "entropy", "center", "neighbors", "triplet", "koleo")

_LABELS = {"loss": "training loss", "val_loss": "held-out loss", "rec": "DCEC: reconstruction term",
           "kl": "DCEC: KL(P‖Q)", "entropy": "DCEC: entropy of q (nats)", "center": "NRAE: centre term",
           "neighbors": "NRAE: neighbour term", "triplet": "Catalyzer: triplet term",
           "koleo": "Catalyzer: KoLeo term"}


def training_curves(histories, *, terms=None, title="Training curves"):
    """Per-epoch losses of several neural reducers, one line per method, a dropdown per history entry.

    Parameters
    ----------
    histories : dict of str -> list of dict
        ``{method: reducer.history_}`` (one dict per epoch, as
        :class:`~rae_explore.reducers.neural.base.NeuralReducer` records them). Epochs are
        numbered across phases (DCEC's pretraining then clustering); a dotted marker starts a
        new phase.
    terms : list of str, optional
        History keys to offer (default: those of :data:`CURVE_TERMS` present in any history).

    Returns
    -------
    go.Figure
    """
    if not histories:
        raise ValueError("training_curves: no histories given")
    keys = set().union(*[set(r) for h in histories.values() for r in h])
    terms = [t for t in (terms or CURVE_TERMS) if t in keys]
    if not terms:
        raise ValueError(f"training_curves: none of {list(terms or CURVE_TERMS)} in the histories")
    methods = list(histories)

    def lines(term):
        for i, meth in enumerate(methods):
            h = histories[meth]
            x = np.arange(1, len(h) + 1)
            y = np.array([r.get(term, np.nan) if r.get(term) is not None else np.nan for r in h], dtype=float)
            phase = [r.get("phase", "") for r in h]
            yield go.Scatter(x=x, y=y, mode="lines+markers", name=str(meth), legendgroup=str(meth),
                             line=dict(color=method_color(meth, i)), customdata=phase,
                             hovertemplate=f"<b>{meth}</b><br>epoch %{{x}} %{{customdata}}<br>"
                                           f"{_LABELS.get(term, term)}=%{{y:.4g}}<extra></extra>")

    fig = switchable(go.Figure(), terms, lines, labels=lambda t: _LABELS.get(t, t), prefix="curve: ",
                     layout_updates=lambda t: {"yaxis.title.text": _LABELS.get(t, t)})
    layout(fig, title, "epoch (all phases)", _LABELS.get(terms[0], terms[0]))
    fig.update_yaxes(type="log")  # (the KoLeo term is negative: plotly leaves those points out of a log axis)
    return fig


def training_summary(fitted):
    """One row per fitted neural reducer: device, epochs, optimiser steps, training seconds, final losses.

    Parameters
    ----------
    fitted : dict of str -> fitted reducer
        Fitted reducers by method name, with a ``history_`` (per-epoch dicts); ``n_iter_`` and
        ``device_`` when they have them (NPP's history has one entry per mining round, no device:
        "cpu", steps from its last entry).

    Returns
    -------
    pandas.DataFrame
        ``method``, ``device``, ``epochs``, ``steps``, ``train_s`` (sum of the epochs' times, all
        phases), ``loss`` and ``val_loss`` of the last epoch (NaN without a held-out slice).
    """
    import pandas as pd

    out = []
    for name, red in fitted.items():
        h = red.history_
        last = h[-1] if h else {}
        steps = getattr(red, "n_iter_", last.get("step", len(h)))
        train_s = (sum(r.get("epoch_seconds", 0.0) for r in h) if any("epoch_seconds" in r for r in h)
                   else last.get("seconds", np.nan))
        out.append({"method": name, "device": getattr(red, "device_", "cpu"), "epochs": len(h), "steps": int(steps),
                    "train_s": float(train_s),
                    "loss": float(last.get("loss", np.nan)), "val_loss": float(last.get("val_loss", np.nan))})
    return pd.DataFrame(out)


def _best_per_pipeline(rows, metric):
    """One row per (reducer, index): the most accurate search setting's ``metric``."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if "status" in df:
        df = df[df["status"] == "ok"]
    if metric not in df.columns:
        raise ValueError(f"paper_claims: column {metric!r} not in the rows; available: {sorted(df.columns)}")
    df = df[df[metric].notna()]
    return df.groupby(["reducer", "index"], sort=False)[metric].max().unstack("reducer")


def paper_claims(rows, methods=("vanilla_ae", "dcec", "hyperae", "nrae"), *, metric="10-R@10", baseline="none",
                 tolerance=0.01):
    """Check the compression paper's three claims on a pipeline grid's rows.

    1. *None of the autoencoder + index combinations beats the pure faiss pipeline*: for every
       index string, no autoencoder's best ``metric`` exceeds the uncompressed pipeline's
       (``baseline`` reducer) by more than ``tolerance``.
    2. *HyperAE does best more often than the others*: counting, per index string, which
       autoencoder has the highest ``metric``, ``hyperae`` has strictly the most wins.
    3. *NRAE brings nothing*: NRAE's ``metric`` is at most ``tolerance`` above the Vanilla AE's on
       average over the index strings.

    Each pipeline is taken at its most accurate search setting (the paper's table reports one
    setting per index).

    Parameters
    ----------
    rows : DataFrame or list of dict
        Rows of :func:`rae_explore.experiments.run_grid` over ``pipeline_configs`` with the
        ``baseline`` reducer (``None`` in the configs, ``"none"`` in the rows) and ``methods``.
    methods : sequence of str
        The autoencoders compared (those absent from the rows are skipped).
    metric : str
        A recall column, e.g. ``"10-R@10"``.
    baseline : str
    tolerance : float
        Recall differences up to this are ties (0.01 = one point).

    Returns
    -------
    table : DataFrame
        Index strings x (baseline and methods), the best ``metric``, plus ``best_ae``.
    claims : list of dict
        One per claim: ``claim``, ``holds`` (bool or None when it cannot be checked), ``evidence``.
    text : str
        Markdown prose stating each claim and whether it holds here.
    """
    table = _best_per_pipeline(rows, metric)
    aes = [m for m in methods if m in table.columns]
    if baseline not in table.columns or not aes:
        raise ValueError(f"paper_claims needs the {baseline!r} pipelines and at least one of {list(methods)}; "
                         f"the rows have reducers {sorted(table.columns)}")
    table = table[[baseline] + aes].copy()
    table["best_ae"] = table[aes].idxmax(axis=1)
    claims = []

    gap = table[aes].sub(table[baseline], axis=0)
    beats = [(ix, m, float(gap.loc[ix, m])) for ix in gap.index for m in aes if gap.loc[ix, m] > tolerance]
    claims.append({"claim": "none of the autoencoder + index combinations beats the pure faiss pipeline",
                   "holds": not beats,
                   "evidence": ("largest gain over faiss alone: "
                                f"{float(gap.max().max()):+.3f} ({gap.stack().idxmax()[1]} with {gap.stack().idxmax()[0]})"
                                if not beats else "beaten by " + ", ".join(f"{m} with {ix} ({g:+.3f})" for ix, m, g in beats))})

    wins = table["best_ae"].value_counts()
    if "hyperae" in aes and len(aes) > 1:
        top = int(wins.get("hyperae", 0))
        others = {m: int(wins.get(m, 0)) for m in aes if m != "hyperae"}
        claims.append({"claim": "HyperAE does best more often than the others",
                       "holds": top > max(others.values()),
                       "evidence": f"best on {top} of {len(table)} index strings; "
                                   + ", ".join(f"{m} {w}" for m, w in others.items())})
    else:
        claims.append({"claim": "HyperAE does best more often than the others", "holds": None,
                       "evidence": "needs hyperae and at least one other autoencoder in the rows"})

    if "nrae" in aes and "vanilla_ae" in aes:
        diff = float((table["nrae"] - table["vanilla_ae"]).mean())
        claims.append({"claim": "NRAE brings nothing (over the Vanilla AE)", "holds": diff <= tolerance,
                       "evidence": f"NRAE - Vanilla AE, mean over index strings: {diff:+.3f}"})
    else:
        claims.append({"claim": "NRAE brings nothing (over the Vanilla AE)", "holds": None,
                       "evidence": "needs nrae and vanilla_ae in the rows"})

    word = {True: "**holds**", False: "**does not hold**", None: "**cannot be checked**"}
    lines = [f"Measured by {metric} at each pipeline's most accurate search setting (ties within "
             f"{tolerance:g}):", ""]
    lines += [f"{i}. *{c['claim'][0].upper() + c['claim'][1:]}*: {word[c['holds']]} here ({c['evidence']})."
              for i, c in enumerate(claims, 1)]
    return table, claims, "\n".join(lines)


__all__ = ["CURVE_TERMS", "paper_claims", "training_curves", "training_summary"]
