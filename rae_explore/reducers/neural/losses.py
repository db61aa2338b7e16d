"""Reusable losses of the search-oriented compressors: KoLeo (Catalyzer) and INRP (CCST).

**KoLeo** (Sablayrolles et al., "Spreading vectors for similarity search", ICLR 2019, Eq. 3):
the Kozachenko-Leonenko estimator of the differential entropy of the codes, written as a loss
to minimise on a batch of ``n`` codes ``z_1 … z_n``,

    L_KoLeo = -(1/n) Σ_i log(n · ρ_i),     ρ_i = min_{j ≠ i} ||z_i - z_j||,

so pushing each code away from its nearest other code in the batch spreads the codes uniformly
(on the sphere for L2-normalised codes). As in the paper, the nearest neighbour ``j`` is chosen
without gradient and the distance to it carries the gradient.

**INRP**, the inhomogeneous neighbourhood relationship preserving loss of CCST (Eq. 4-5):
on a batch, over all pairs ``i < j``,

    L_INRP = mean_{i<j} w_ij · (||f(x_i) - f(x_j)||² - ||x_i - x_j||²)²,
    w_ij   = min(α, max(β, -ln(d_ij / boundary))),     d_ij = ||x_i - x_j||,

with α = 2.0, β = 0.01 and ``boundary`` the mean pairwise distance of the training set
(:func:`mean_pairwise_distance`): close pairs (``d_ij`` well below the boundary) weigh up to α,
pairs beyond the boundary only β, so the compressed space keeps near neighbourhoods first.
(The CCST reference code, github.com/hkzhang91/CCST ``CR_loss_l2_s_log1``, weights
``|‖f_i - f_j‖ - ‖x_i - x_j‖|`` of plain distances; this module follows the paper's equation.)
"""

import numpy as np

from ...validation import as_float32, check_int
from .base import check_number

#: INRP's weight clip (paper: α = 2.0, β = 0.01).
INRP_ALPHA = 2.0
INRP_BETA = 0.01


def _torch():
    import torch

    return torch


def _check_batch(z, name):
    if z.ndim != 2:
        raise ValueError(f"{name} must be a 2-d tensor (batch, dim), got shape {tuple(z.shape)}")
    if z.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows (pairs within the batch), got {z.shape[0]}")


def nearest_other(z):
    """Index (int64 tensor (n,)) of each row's nearest other row of ``z`` (n, d), without gradient."""
    torch = _torch()
    with torch.no_grad():
        D = torch.cdist(z.detach(), z.detach())
        D.fill_diagonal_(float("inf"))
        return D.argmin(dim=1)


def koleo_loss(z, eps=1e-6):
    """KoLeo: ``-mean_i log(n · ||z_i - z_nn(i)||)`` over a batch (Sablayrolles et al., Eq. 3).

    Parameters
    ----------
    z : torch.Tensor, shape (n, d), n >= 2
        Codes of one batch (the Catalyzer's are L2-normalised).
    eps : float
        Added inside the distance (torch's ``pairwise_distance``), so duplicate codes give a
        large finite loss instead of ``inf``.

    Returns
    -------
    torch.Tensor, scalar
        Lower when the codes are spread out.
    """
    torch = _torch()
    _check_batch(z, "z")
    nn_idx = nearest_other(z)
    rho = torch.nn.functional.pairwise_distance(z, z[nn_idx], eps=eps)
    return -torch.log(z.shape[0] * rho).mean()


def inrp_weights(d, boundary, alpha=INRP_ALPHA, beta=INRP_BETA):
    """INRP's pair weights ``min(α, max(β, -ln(d / boundary)))`` (CCST, Eq. 5).

    Parameters
    ----------
    d : torch.Tensor or ndarray, any shape
        Input-space distances ``||x_i - x_j||`` (>= 0; 0 gives α).
    boundary : float > 0
        Mean pairwise distance of the training set.
    alpha, beta : float
        Upper and lower clip, ``0 <= beta <= alpha``.

    Returns
    -------
    Same type and shape as ``d``.
    """
    boundary = check_number(boundary, "boundary", low=0, low_open=True)
    alpha = check_number(alpha, "alpha", low=0)
    beta = check_number(beta, "beta", low=0, high=alpha)
    if isinstance(d, np.ndarray):
        with np.errstate(divide="ignore"):
            return np.clip(-np.log(d / boundary), beta, alpha)
    torch = _torch()
    return torch.clamp(-torch.log(d / boundary), min=beta, max=alpha)


def inrp_loss(fx, x, boundary, alpha=INRP_ALPHA, beta=INRP_BETA, return_weights=False):
    """INRP: mean over pairs ``i < j`` of ``w_ij (||f_i - f_j||² - ||x_i - x_j||²)²`` (CCST, Eq. 4).

    Parameters
    ----------
    fx : torch.Tensor, shape (n, m), n >= 2
        Compressed batch f(x).
    x : torch.Tensor, shape (n, d)
        The same batch in the input space (no gradient flows to it).
    boundary : float > 0
        Mean pairwise input distance of the training set (:func:`mean_pairwise_distance`).
    alpha, beta : float
        Weight clip (paper: 2.0 and 0.01).
    return_weights : bool
        Also return the (n, n) weight matrix (diagonal set to 0).

    Returns
    -------
    loss : torch.Tensor, scalar
    W : torch.Tensor, shape (n, n), only with ``return_weights``
    """
    torch = _torch()
    _check_batch(fx, "fx")
    _check_batch(x, "x")
    if fx.shape[0] != x.shape[0]:
        raise ValueError(f"fx and x must hold the same batch, got {fx.shape[0]} and {x.shape[0]} rows")
    n = x.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=x.device)
    dx = torch.nn.functional.pdist(x.detach())  # the pairs i < j, row-major, as triu_indices
    dx2 = dx ** 2
    sq = (fx ** 2).sum(dim=1)
    # squared code distances from one Gram matrix (a gather of every pair is several times slower)
    df2 = (sq[:, None] + sq[None, :] - 2 * (fx @ fx.T))[iu[0], iu[1]]
    w = inrp_weights(dx, boundary, alpha, beta)
    loss = (w * (df2 - dx2) ** 2).mean()
    if not return_weights:
        return loss
    W = torch.zeros(n, n, dtype=w.dtype, device=w.device)
    W[iu[0], iu[1]] = w
    W[iu[1], iu[0]] = w
    return loss, W


def mean_pairwise_distance(X, max_rows=2048, random_state=0):
    """Mean Euclidean distance over the pairs ``i < j`` of ``X``: INRP's ``boundary``.

    Exact when ``X`` has at most ``max_rows`` rows; otherwise estimated on ``max_rows`` rows
    drawn with ``random_state`` (about 2 million pairs by default).

    Parameters
    ----------
    X : array-like, shape (n, d), n >= 2
    max_rows : int >= 2
    random_state : int or None

    Returns
    -------
    float
    """
    from sklearn.metrics import pairwise_distances

    X = as_float32(X, "X", min_samples=2)
    max_rows = check_int(max_rows, "max_rows", low=2)
    if X.shape[0] > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(X.shape[0], max_rows, replace=False))
        X = X[rows]
    D = pairwise_distances(X.astype(np.float64))
    n = D.shape[0]
    return float(D[np.triu_indices(n, 1)].mean())


__all__ = ["INRP_ALPHA", "INRP_BETA", "inrp_loss", "inrp_weights", "koleo_loss", "mean_pairwise_distance",
           "nearest_other"]
