"""How far can the vectors be compressed? Three views of the same question, side by side.

1. **Intrinsic dimension** -- the global estimates of scikit-dimension's estimators
   (:func:`rae_explore.intrinsic.estimate_id`).
2. **Autoencoder-loss knee** -- :func:`rae_explore.intrinsic.knee.loss_curve` and
   :func:`~rae_explore.intrinsic.knee.loss_knees`.
3. **Recall knee** -- the smallest dimension whose top-k accuracy (overlap of the exact k-NN
   before and after reduction, RAE paper Eq. 4) stays at or above ``target`` times its value
   at full dimension (:func:`recall_curve`, :func:`recall_knee`; PCA by default, any
   registered reducer by name).

:func:`recommend_dim` runs all three and returns one tidy table.

Examples
--------
>>> table = recommend_dim("sift5k", target=0.9, k=10)  # doctest: +SKIP
>>> table[["view", "method", "dimension"]]              # doctest: +SKIP
"""

import time
import warnings

import numpy as np

from ..progress import progress_bar

from ..data.datasets import as_dataset
from ..intrinsic.knee import (
    DEFAULT_KINDS,
    check_dims,
    dims_grid,
    loss_curve,
    loss_knees,
)

VIEWS = ("intrinsic dimension", "autoencoder loss knee", "recall knee")


# ------------------------------------------------------------------------------ recall knee
def recall_curve(dataset, *, dims=None, k=10, reducer="pca", reducer_params=None, random_state=0, verbose=False):
    """Top-k accuracy of a reducer over dimensions (exact k-NN before and after, faiss).

    Parameters
    ----------
    dataset : Dataset or str
        Base ``xb`` and queries ``xq``; under the cosine metric vectors are L2-normalised.
    dims : sequence of int, optional
        Default :func:`dims_grid` (``d`` down to 2); ``d`` itself is always evaluated, as the
        full-dimension reference.
    k : int
    reducer : str
        Name for :func:`rae_explore.reducers.make_reducer` (``"pca"``, ``"rae"``, ...).
    reducer_params : dict, optional
        Extra hyperparameters of the reducer.
    random_state : int
    verbose : bool

    Returns
    -------
    pandas.DataFrame
        ``n_components``, ``top_k`` (top-k accuracy), ``seconds``; one row per dimension,
        descending. ``attrs["k"]``, ``attrs["reducer"]``.
    """
    import pandas as pd

    from ..reducers import make_reducer
    from .evaluate import evaluate

    ds = as_dataset(dataset)
    dims = dims_grid(ds.d) if dims is None else check_dims(list(dims) + [ds.d], ds.d)
    if ds.d not in dims:
        dims = [ds.d] + dims
    if ds.gt is None or ds.gt.shape[1] < k:
        ds = ds.with_ground_truth(k)
    it = dims
    if verbose:
        it = progress_bar(dims, desc=f"{reducer} top-{k}", unit="dim")
    rows = []
    for m in it:
        t0 = time.perf_counter()
        red = make_reducer(reducer, n_components=int(m), random_state=random_state, **(reducer_params or {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # n_components == d is deliberate here (the reference point)
            row = evaluate(red, ds, ks=(k,), recalls=())
        rows.append(dict(n_components=int(m), top_k=row[f"top_k@{k}"], seconds=time.perf_counter() - t0))
    out = pd.DataFrame(rows)
    out.attrs.update(k=k, reducer=reducer)
    return out


def recall_knee(curve, target=0.9):
    """Smallest dimension whose top-k accuracy stays >= ``target`` x the full-dimension value.

    "Stays": every evaluated dimension at or above it also reaches the threshold.

    Parameters
    ----------
    curve : DataFrame
        From :func:`recall_curve` (``n_components``, ``top_k``); its largest dimension is the
        full-dimension reference.
    target : float in (0, 1]

    Returns
    -------
    int
        The full dimension itself when already the next one down misses the threshold.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    c = curve.sort_values("n_components", ascending=False)
    full = float(c["top_k"].iloc[0])
    threshold = target * full
    best = int(c["n_components"].iloc[0])
    for m, acc in zip(c["n_components"], c["top_k"]):
        if acc >= threshold:
            best = int(m)
        else:
            break
    return best


# ------------------------------------------------------------------------------ all views
def recommend_dim(dataset, target=0.9, k=10, *, estimators="all", budget_s=30.0, id_params=None,
                  kinds=DEFAULT_KINDS, dims=None, reducer="pca", max_id_samples=None, ae_kwargs=None,
                  random_state=0, verbose=False):
    """The dimension each view suggests, side by side.

    Parameters
    ----------
    dataset : Dataset or str
        Intrinsic dimension and autoencoders use the base vectors (``xb``, or ``xt`` when the
        dataset has training vectors); the autoencoders' test loss is measured on the queries
        ``xq``; the recall knee searches the queries in the base. Cosine datasets are
        L2-normalised first.
    target : float in (0, 1]
        Recall knee: keep at least this fraction of the full-dimension top-k accuracy.
    k : int
        Neighbours of the top-k accuracy.
    estimators, budget_s, id_params
        Passed to :func:`rae_explore.intrinsic.estimate.estimate_id` (``id_params`` as its
        ``params``); ``estimators=()`` skips this view.
    kinds : sequence of {"linear", "mlp"}
        Autoencoders for the loss knee; ``()`` skips this view.
    dims : sequence of int, optional
        Grid of dimensions of both knees (default :func:`dims_grid`).
    reducer : str or None
        Reducer of the recall knee (``make_reducer`` name); None skips this view.
    max_id_samples : int, optional
        Estimate the intrinsic dimension on a seeded subsample of at most this many rows.
    ae_kwargs : dict, optional
        Extra arguments of :func:`loss_curve` (``steps``, ``hidden``, ``lr``, ...).
    random_state : int
    verbose : bool

    Returns
    -------
    pandas.DataFrame
        One row per suggestion: ``view`` (one of :data:`VIEWS`), ``method`` (estimator name,
        ``"linear AE"`` / ``"mlp AE"``, or e.g. ``"pca top-10 >= 0.9 x full"``), ``dimension``
        (float; NaN when the view gave none), ``status`` and ``detail``. ``attrs`` holds the
        raw material: ``id_table``, ``loss_curve``, ``recall_curve`` (DataFrames), and
        ``dataset``, ``d``.

    Examples
    --------
    >>> t = recommend_dim("digits", target=0.9, k=10, kinds=("linear",))  # doctest: +SKIP
    >>> t.pivot_table(index="method", values="dimension")                # doctest: +SKIP
    """
    import pandas as pd

    from ..intrinsic.estimate import estimate_id

    ds = as_dataset(dataset, seed=random_state)
    X = np.asarray(ds.train)
    rows, attrs = [], {"dataset": ds.name, "d": ds.d}

    if estimators is not None and not (isinstance(estimators, (list, tuple)) and len(estimators) == 0):
        Xid = X
        if max_id_samples is not None and len(X) > max_id_samples:
            rng = np.random.default_rng(random_state)
            Xid = X[np.sort(rng.choice(len(X), int(max_id_samples), replace=False))]
        table = estimate_id(Xid, estimators, budget_s=budget_s, params=id_params, random_state=random_state,
                            verbose=verbose)
        attrs["id_table"] = table
        for _, r in table.iterrows():
            rows.append(dict(view=VIEWS[0], method=r["estimator"], dimension=r["dimension"], status=r["status"],
                             detail=f"{r['seconds']:.2f} s" + (f"; {r['note']}" if r["note"] else "")
                             if r["status"] == "ok" else r["note"]))

    if kinds:
        curve = loss_curve(X, ds.xq, dims=dims, kinds=kinds, random_state=random_state, verbose=verbose,
                           **(ae_kwargs or {}))
        attrs["loss_curve"] = curve
        for kind, knee in loss_knees(curve).items():
            g = curve[curve["kind"] == kind].set_index("n_components")
            detail = (f"Kneedle on test FVU over {len(g)} hidden dims; test FVU at knee "
                      f"{g.loc[knee, 'test_fvu']:.3g}" if knee is not None else "no knee found (flat curve?)")
            rows.append(dict(view=VIEWS[1], method=f"{kind} AE", dimension=float("nan") if knee is None else knee,
                             status="ok" if knee is not None else "failed: no knee", detail=detail))

    if reducer:
        rc = recall_curve(ds, dims=dims, k=k, reducer=reducer, random_state=random_state, verbose=verbose)
        attrs["recall_curve"] = rc
        m = recall_knee(rc, target)
        full = float(rc.loc[rc["n_components"].idxmax(), "top_k"])
        acc = float(rc.loc[rc["n_components"] == m, "top_k"].iloc[0])
        rows.append(dict(view=VIEWS[2], method=f"{reducer} top-{k} >= {target:g} x full", dimension=float(m),
                         status="ok", detail=f"top-{k} accuracy {acc:.3f} (full dimension {full:.3f})"))

    out = pd.DataFrame(rows, columns=["view", "method", "dimension", "status", "detail"])
    out["dimension"] = out["dimension"].astype(float)
    out.attrs.update(attrs)
    return out
