"""Input checks shared by loaders, k-NN, reducers and metrics.

Every check raises ``ValueError``/``TypeError`` naming the argument, what was received and
what was expected, so a user can fix the call without reading the source.
"""

import numpy as np

METRICS = ("l2", "ip", "cosine")


def as_float32(x, name="X", *, allow_mmap=False, check_finite=True):
    """Return ``x`` as a C-contiguous float32 2-d array, checked for shape and finiteness.

    Parameters
    ----------
    x : array-like, shape (n, d)
    name : str
        Argument name used in error messages.
    allow_mmap : bool
        If True and ``x`` is already float32 and C-contiguous, a memory map is returned as is
        (no copy, no finiteness scan: the scan would read the whole file).
    check_finite : bool
        Raise on NaN or inf.

    Returns
    -------
    ndarray, float32, shape (n, d)
    """
    if isinstance(x, np.memmap) and allow_mmap and x.dtype == np.float32 and x.flags.c_contiguous:
        check_2d(x, name)
        return x
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}; convert it with np.asarray(..., dtype=np.float32)")
    check_2d(x, name)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if check_finite:
        assert_finite(x, name)
    return x


def check_2d(x, name="X"):
    """Raise ValueError unless ``x`` is 2-d with at least one row and one column."""
    if x.ndim != 2:
        hint = " (a single vector? use x.reshape(1, -1))" if x.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape {x.shape}{hint}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {x.shape}; it needs at least one row and one column")


def assert_finite(x, name="X", offset=0):
    """Raise ValueError naming the first row holding NaN or inf (``offset`` is added to it)."""
    if x.dtype.kind != "f":
        return
    ok = np.isfinite(x).all(axis=1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        raise ValueError(
            f"{name} contains NaN or inf in {bad.size} row(s), first at row {int(bad[0]) + offset}; "
            "drop or impute those rows before calling (e.g. x[np.isfinite(x).all(axis=1)])"
        )


def check_metric(metric):
    """Return ``metric`` if it is one of :data:`METRICS`, else raise ValueError listing them."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric


def check_same_dim(xq, xb, names=("xq", "xb")):
    """Raise ValueError if the two arrays have different numbers of columns."""
    if xq.shape[1] != xb.shape[1]:
        raise ValueError(
            f"dimension mismatch: {names[0]} has {xq.shape[1]} columns but {names[1]} has {xb.shape[1]}; "
            "queries and base must come from the same embedding model (and the same reducer)"
        )


def check_k(k, n, name="k", what="base vectors"):
    """Raise ValueError unless ``1 <= k <= n``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"{name} must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"{name}={k} is larger than the number of {what} ({n}); use {name} <= {n} or a larger base")
    return int(k)
