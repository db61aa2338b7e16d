"""Neighbour-preservation metrics, in scikit-learn's ``(y_true, y_pred)`` argument order.

- :func:`top_k_accuracy`: the RAE paper's Eq. 4, overlap of the k-NN sets before and after
  reduction; tie-aware when the true distances are given (a neighbour at the same distance as
  the k-th counts, so exact duplicates in the base are not scored as misses).
- :func:`recall_n_at_m`: n-R@m of the autoencoder and spreading-vectors papers.
"""

import warnings

import numpy as np

_CHUNK = 4096  # rows per vectorised chunk: bounds the (rows, a, b) comparison tensor


def _check_ids(I, name):
    I = np.asarray(I)
    if I.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of neighbour ids (nq, k), got shape {I.shape}")
    if I.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer ids, got dtype {I.dtype}")
    return I


def _check_pair(true, pred, names):
    true, pred = _check_ids(true, names[0]), _check_ids(pred, names[1])
    if true.shape[0] != pred.shape[0]:
        raise ValueError(f"{names[0]} has {true.shape[0]} queries but {names[1]} has {pred.shape[0]}")
    return true, pred


def _overlap(true, pred, n, m, per_query):
    """Mean (or per-query) fraction of ``true[:, :n]`` found in ``pred[:, :m]``."""
    frac = _hits(true[:, :n], pred[:, :m]) / n
    return frac if per_query else float(frac.mean())


def _hits(A, B):
    """Per row, how many ids of A (unique within the row) appear in B. Shapes (nq, a), (nq, b)."""
    out = np.empty(A.shape[0], dtype=np.int64)
    for s in range(0, A.shape[0], _CHUNK):
        a, b = A[s:s + _CHUNK], B[s:s + _CHUNK]
        out[s:s + _CHUNK] = ((a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)).any(axis=2).sum(axis=1)
    return out


def top_k_accuracy(I_true, I_pred, k, per_query=False, *, D_true=None, rtol=1e-6):
    """Overlap of the k-NN sets before and after reduction (RAE paper, Eq. 4).

    ``acc@k = mean over queries q of |kNN_orig(q) ∩ kNN_reduced(q)| / k`` — order inside the
    top-k does not matter.

    **Ties.** With ``D_true`` the true set of a query is its first ``k`` neighbours *plus every
    further neighbour at the same distance as the k-th* (within ``rtol``): with exact duplicates
    in the base, which of two copies ranks k-th is arbitrary, and a reduction that returns the
    other copy is not wrong. Without ``D_true`` (ids only) ties cannot be seen and a copy
    returned instead of its twin counts as a miss, as in the RAE paper. Give ``I_true`` and
    ``D_true`` more columns than ``k`` (e.g. ``2 k``) so the ties fit; if the last column is
    still tied with the k-th, a :class:`TieWarning` says for how many queries.

    Parameters
    ----------
    I_true : int array, shape (nq, >= k)
        Neighbour ids in the original space (ground truth), nearest first.
    I_pred : int array, shape (nq, >= k)
        Neighbour ids found in the reduced space, nearest first.
    k : int
    per_query : bool
        Return the per-query fractions instead of their mean.
    D_true : float array, shape of ``I_true``, optional
        The distances (or similarities) that go with ``I_true``, nearest first, as
        :func:`~rae_explore.neighbors.knn.knn_search` returns them. Makes the score tie-aware.
    rtol : float
        Relative tolerance under which two distances are tied.

    Returns
    -------
    float in [0, 1] (or ndarray (nq,) if ``per_query``).

    Raises
    ------
    ValueError
        ``k`` wider than a table, or ``D_true`` not of the shape of ``I_true``.
    """
    I_true, I_pred = _check_pair(I_true, I_pred, ("I_true", "I_pred"))
    if k < 1 or k > min(I_true.shape[1], I_pred.shape[1]):
        raise ValueError(
            f"k={k} needs at least k columns in both tables, got I_true {I_true.shape} and I_pred {I_pred.shape}; "
            "search with more neighbours or lower k"
        )
    if D_true is None:
        return _overlap(I_true, I_pred, k, k, per_query)  # the k-R@k of recall_n_at_m
    D = np.asarray(D_true)
    if D.shape != I_true.shape:
        raise ValueError(f"D_true must have the shape of I_true {I_true.shape}, got {D.shape}")
    tied = np.isclose(D, D[:, k - 1:k], rtol=rtol, atol=0.0)
    tied[:, :k] = True
    if I_true.shape[1] > k and tied[:, -1].any():
        warnings.warn(
            f"{int(tied[:, -1].sum())} queries have neighbours tied with their k-th (k={k}) up to the last of the "
            f"{I_true.shape[1]} columns of I_true: more ties may be cut off; search the ground truth with more "
            "neighbours", TieWarning, stacklevel=2)
    frac = _hits(np.where(tied, I_true, -1), I_pred[:, :k]) / k
    return frac if per_query else float(frac.mean())


class TieWarning(UserWarning):
    """The ground truth is too narrow to hold every neighbour tied with the k-th."""


def recall_n_at_m(gt, I, n, m, per_query=False):
    """n-R@m: the fraction of the true ``n`` nearest neighbours found among the ``m`` returned.

    ``n-R@m = mean over queries of |gt[q, :n] ∩ I[q, :m]| / n``. With ``n = 1`` this is the
    classic 1-R@m of the spreading-vectors paper (is the true nearest neighbour in the first m
    results?). The autoencoder paper reports 1-R@1, 1-R@10, 1-R@100, 10-R@10, 10-R@100,
    100-R@100. If ``m < n`` the best possible value is ``m / n``. Ids < 0 (faiss's "no result")
    never count.

    Arguments are in scikit-learn's ``(y_true, y_pred)`` order, as :func:`top_k_accuracy`.

    Parameters
    ----------
    gt : int array, shape (nq, >= n)
        Exact neighbour ids in the original space, nearest first.
    I : int array, shape (nq, >= m)
        Ids returned by the search under test, nearest first.
    n, m : int

    Returns
    -------
    float in [0, 1] (or ndarray (nq,) if ``per_query``).
    """
    gt, I = _check_pair(gt, I, ("gt", "I"))
    if not 1 <= n <= gt.shape[1]:
        raise ValueError(f"n={n} needs gt with at least n columns, got {gt.shape}; compute ground truth with k >= {n}")
    if not 1 <= m <= I.shape[1]:
        raise ValueError(f"m={m} needs I with at least m columns, got {I.shape}; search with k >= {m}")
    return _overlap(gt, I, n, m, per_query)
