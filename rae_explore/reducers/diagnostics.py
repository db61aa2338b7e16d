"""Diagnostics of a fitted linear map: singular values, condition number, reconstruction error."""

import numpy as np


def singular_values(W):
    """Singular values of a linear map, descending.

    Parameters
    ----------
    W : array-like, shape (m, d)
        A matrix, e.g. an encoder ``components_`` (a torch tensor is accepted too).

    Returns
    -------
    ndarray, float64, shape (min(m, d),)
    """
    if hasattr(W, "detach"):
        W = W.detach().cpu().numpy()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty 2-d matrix, got shape {W.shape}")
    if not np.isfinite(W).all():
        raise ValueError("W contains NaN or inf; the map was not trained to a finite solution")
    return np.linalg.svd(W, compute_uv=False)


def condition_number(W):
    """Condition number ``sigma_max / sigma_min`` of a linear map (over its ``min(m, d)`` singular values).

    For an encoder ``W`` of shape (m, d) with ``m <= d`` this is the ratio the RAE paper ties to
    k-NN preservation (Section 3.4): 1 for an orthonormal projection (PCA), large when some
    reduced directions are stretched more than others. ``inf`` for a rank-deficient map.

    Returns
    -------
    float
    """
    s = singular_values(W)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def reconstruction_mse(X, X_hat):
    """Mean squared reconstruction error, averaged over all elements: ``mean((X - X_hat) ** 2)``.

    This is ``torch.nn.MSELoss()`` (the RAE reference's training loss): the per-row squared
    error ``||x - x_hat||^2`` divided by ``d``, averaged over rows.

    Parameters
    ----------
    X, X_hat : array-like, shape (n, d)

    Returns
    -------
    float
    """
    X, X_hat = np.asarray(X, dtype=np.float64), np.asarray(X_hat, dtype=np.float64)
    if X.shape != X_hat.shape:
        raise ValueError(f"X has shape {X.shape} but X_hat has shape {X_hat.shape}; they must match")
    if X.size == 0:
        raise ValueError("X is empty")
    return float(np.mean((X - X_hat) ** 2))
