"""The autoencoder-loss knee: where shrinking the code starts to cost reconstruction.

The autoencoder paper trains autoencoders for hidden dimensions from ``d`` down to 2 and
observes the test reconstruction loss rising once the hidden dimension drops below the
intrinsic dimension. :func:`loss_curve` trains a linear and a small nonlinear autoencoder
(:mod:`rae_explore.reducers.neural.autoencoders`) on a log-ish grid of hidden dimensions
(:func:`dims_grid`), and :func:`find_knee` locates the knee of the test loss with **Kneedle**
(Satopää et al., 2011, the ``kneed`` package): the loss, as a function of the hidden dimension
on a linear axis, is a decreasing convex curve; Kneedle normalises both axes to [0, 1] and
picks the point farthest below the chord joining the ends -- where adding dimensions stops
paying. :mod:`rae_explore.experiments.recommend` puts this knee next to the intrinsic-dimension
estimates and the recall knee.

Examples
--------
>>> curve = loss_curve(X, dims=[64, 32, 16, 8])  # doctest: +SKIP
>>> loss_knees(curve)                            # doctest: +SKIP
"""

import logging
import warnings

import numpy as np

from ..progress import progress_bar

from ..validation import check_positive_int

logger = logging.getLogger(__name__)

DEFAULT_KINDS = ("linear", "mlp")
_DEFAULT_LR = {"linear": 1e-2, "mlp": 3e-3}


def dims_grid(d, low=2):
    """A log-ish grid of dimensions from ``d`` down to ``low``: powers of two and 1.5x powers of two.

    >>> dims_grid(128)
    [128, 96, 64, 48, 32, 24, 16, 12, 8, 6, 4, 3, 2]
    """
    check_positive_int(d, "d")
    low = max(1, min(int(low), int(d)))
    vals = {int(d)}
    p = 1
    while p < d:
        for v in (p, int(1.5 * p)):
            if low <= v < d:
                vals.add(v)
        p *= 2
    return sorted(vals, reverse=True)


def check_dims(dims, d):
    dims = sorted({int(v) for v in dims}, reverse=True)
    if not dims:
        raise ValueError("dims is empty")
    bad = [v for v in dims if not 1 <= v <= d]
    if bad:
        raise ValueError(f"dims must lie in [1, d={d}], got {bad}")
    return dims


# ------------------------------------------------------------------------------ loss knee
def loss_curve(X, X_test=None, *, dims=None, kinds=DEFAULT_KINDS, test_fraction=0.2, max_train=20000,
               steps=1500, batch_size=256, lr=None, hidden=(256,), random_state=0,
               device="cpu", verbose=False):
    """Test reconstruction loss of linear and small nonlinear autoencoders over hidden dimensions.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Training vectors.
    X_test : array-like, shape (m, d), optional
        Held-out vectors; default: a seeded ``test_fraction`` of ``X`` is held out.
    dims : sequence of int, optional
        Hidden dimensions; default :func:`dims_grid` (``d`` down to 2).
    kinds : sequence of {"linear", "mlp"}
    test_fraction : float
        Share of ``X`` held out when ``X_test`` is None.
    max_train : int
        Train on at most this many (seeded) rows: the curve's shape does not need more.
    steps : int
        Optimiser steps per model (the same for every hidden dimension, whatever ``n``).
    batch_size, lr, hidden
        Passed to :func:`rae_explore.reducers.neural.autoencoders.train_autoencoder` (Adam, cosine schedule).
        ``lr=None``: 1e-2 for the linear autoencoder (its small directions converge slowly),
        3e-3 for the MLP.
    random_state : int
    device : str
    verbose : bool
        Progress over the models.

    Returns
    -------
    pandas.DataFrame
        One row per (kind, n_components): ``kind``, ``n_components``, ``train_loss``,
        ``test_loss`` (MSE per element), ``train_fvu``, ``test_fvu`` (fraction of variance
        unexplained), ``epochs``, ``seconds``.
    """
    import pandas as pd

    from ..reducers.neural.autoencoders import KINDS, train_autoencoder
    from ..validation import as_float32

    X = as_float32(X, "X")
    n, d = X.shape
    rng = np.random.default_rng(random_state)
    if X_test is None:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        perm = rng.permutation(n)
        n_test = max(1, int(round(test_fraction * n)))
        X_test, X = X[np.sort(perm[:n_test])], X[np.sort(perm[n_test:])]
    else:
        X_test = as_float32(X_test, "X_test")
    if len(X) > max_train:
        X = X[np.sort(rng.choice(len(X), max_train, replace=False))]
    dims = dims_grid(d) if dims is None else check_dims(dims, d)
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"kinds must be among {KINDS}, got {k!r}")
    jobs = [(k, h) for k in kinds for h in dims]
    if verbose:
        jobs = progress_bar(jobs, desc="autoencoders", unit="model")
    rows = []
    for kind, h in jobs:
        fit = train_autoencoder(X, h, X_test=X_test, kind=kind, hidden=hidden, steps=int(steps), max_epochs=None,
                                batch_size=batch_size, lr=_DEFAULT_LR[kind] if lr is None else lr,
                                random_state=random_state, device=device)
        rows.append(dict(kind=kind, n_components=h, train_loss=fit.train_loss, test_loss=fit.test_loss,
                         train_fvu=fit.train_fvu, test_fvu=fit.test_fvu, epochs=fit.epochs, seconds=fit.seconds))
    return pd.DataFrame(rows)


def find_knee(dims, losses, *, S=1.0):
    """Kneedle knee of a loss that decreases (convexly) with the dimension.

    Parameters
    ----------
    dims : sequence of int
        Dimensions (any order; duplicates not allowed).
    losses : sequence of float
        Loss at each dimension.
    S : float
        Kneedle's sensitivity (``kneed.KneeLocator(S=...)``).

    Returns
    -------
    int or None
        The dimension at the knee; None when the curve has none (e.g. flat or too few points).
    """
    from kneed import KneeLocator

    x = np.asarray(dims, dtype=float)
    y = np.asarray(losses, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"dims and losses must be 1-d of the same length, got {x.shape} and {y.shape}")
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) != len(x):
        raise ValueError("dims contains duplicates")
    if len(x) < 3:
        return None
    order = np.argsort(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns when it finds no knee; None says so
        knee = KneeLocator(x[order], y[order], S=S, curve="convex", direction="decreasing").knee
    return None if knee is None else int(round(float(knee)))


def loss_knees(curve, loss="test_fvu", S=1.0):
    """Kneedle knee of each autoencoder kind in a :func:`loss_curve` table: ``{kind: dim or None}``."""
    if loss not in curve.columns:
        raise ValueError(f"loss must be a column of the curve ({list(curve.columns)}), got {loss!r}")
    return {kind: find_knee(g["n_components"], g[loss], S=S) for kind, g in curve.groupby("kind", sort=False)}
