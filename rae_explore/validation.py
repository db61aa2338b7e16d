"""Input checks shared by loaders, k-NN, reducers, intrinsic dimension and metrics.

Every check raises ``ValueError``/``TypeError`` naming the argument, what was received and
what was expected, so a user can fix the call without reading the source. The messages for
malformed arrays follow scikit-learn's wording (its estimator checks look for it).
"""

import numbers

import numpy as np

METRICS = ("l2", "ip", "cosine")


def as_float32(x, name="X", *, allow_mmap=False, check_finite=True, keep_float64=False, min_samples=1,
               min_features=1, by=None):
    """Return ``x`` as a C-contiguous float 2-d array, checked for type, shape and finiteness.

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
    keep_float64 : bool
        Return float64 input as float64 (everything else becomes float32).
    min_samples, min_features : int
        Fewest rows and columns accepted.
    by : str, optional
        Who requires them, for the message (e.g. an estimator's class name).

    Returns
    -------
    ndarray, float32 (or float64 with ``keep_float64``), shape (n, d)

    Raises
    ------
    TypeError
        Sparse matrices, non-numeric dtypes.
    ValueError
        Complex values, not 2-d, fewer than ``min_samples`` rows or ``min_features`` columns, NaN/inf.
    """
    if isinstance(x, np.memmap) and allow_mmap and x.dtype == np.float32 and x.flags.c_contiguous:
        check_2d(x, name)
        return x
    if hasattr(x, "tocsr") and hasattr(x, "nnz"):  # scipy.sparse, without importing scipy
        raise TypeError(f"{name} is a sparse matrix; densify it first ({name}.toarray())")
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    if x.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} must hold real numbers, got dtype {x.dtype}")
    if x.dtype.kind == "O":
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must hold numbers, got an object array that does not convert: {e}") from None
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}; convert it with np.asarray(..., dtype=np.float32)")
    check_2d(x, name)
    n, d = x.shape
    by = f" by {by}" if by else ""
    if n < min_samples:
        raise ValueError(f"{name} has {n} sample(s) (shape={x.shape}) while a minimum of {min_samples} is "
                         f"required{by}; pass at least {min_samples} samples.")
    if d < min_features:
        raise ValueError(f"{name} has {d} feature(s) (shape={x.shape}) while a minimum of {min_features} is "
                         f"required{by}; pass at least {min_features} features.")
    dtype = np.float64 if keep_float64 and x.dtype == np.float64 else np.float32
    x = np.ascontiguousarray(x, dtype=dtype)
    if check_finite:
        assert_finite(x, name)
    return x


def check_2d(x, name="X"):
    """Raise ValueError unless ``x`` is 2-d with at least one row and one column."""
    if x.ndim != 2:
        hint = ""
        if x.ndim == 1:
            hint = (". Reshape your data with x.reshape(1, -1) for a single vector or x.reshape(-1, 1) for a "
                    "single feature")
        raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape {x.shape}{hint}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={x.shape}) while a minimum of 1 is required.")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has 0 sample(s) (shape={x.shape}) while a minimum of 1 is required.")


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


class NotAnIntegerError(TypeError, ValueError):
    """A parameter that must be an integer is not one (a TypeError, and a ValueError for the
    callers that have always documented ValueError for a bad parameter, like scikit-learn's
    ``InvalidParameterError``)."""


def check_int(value, name, *, low=None, high=None, what=None):
    """Return ``value`` as an int if it is an integer (not a bool) in ``[low, high]``.

    The one integer check of the package: every message reads ``"{name} must be {what}, got
    {value!r}"``.

    Parameters
    ----------
    value
        The value to check.
    name : str
        Argument name used in the message.
    low, high : int, optional
        Inclusive bounds (None: unbounded).
    what : str, optional
        What is expected, for the message; default ``"an integer"`` followed by the range
        (``"an integer in [1, 32]"``, ``"an integer >= 2"``). Pass it to spell the range the
        caller's way, e.g. ``"an integer in [1, d=32]"`` or ``"a positive integer"``.

    Raises
    ------
    NotAnIntegerError
        Not an integer (a TypeError and a ValueError).
    ValueError
        Outside ``[low, high]``.
    """
    if what is None:
        if low is not None and high is not None:
            what = f"an integer in [{low}, {high}]"
        elif low is not None:
            what = f"an integer >= {low}"
        elif high is not None:
            what = f"an integer <= {high}"
        else:
            what = "an integer"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NotAnIntegerError(f"{name} must be {what}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_positive_int(value, name):
    """``check_int(value, name, low=1)`` with the message "{name} must be a positive integer, got ..."."""
    return check_int(value, name, low=1, what="a positive integer")


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
    """Raise unless ``1 <= k <= n``: TypeError for a non-integer, ValueError out of range."""
    k = check_int(k, name, low=1)
    if k > n:
        raise ValueError(f"{name}={k} is larger than the number of {what} ({n}); use {name} <= {n} or a larger base")
    return k
