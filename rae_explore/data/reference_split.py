"""The RAE reference's base/query split, reproduced row for row.

The reference code (github.com/explorerZH/RAE-KDD2026, ``code/data_utils.py``,
``create_data_loaders``) seeds Python's :mod:`random` with ``--seed`` and then

1. keeps ``num_samples`` rows: the first ones of the file (IMDb, ImageNet, Flickr30k), or, for
   CelebA, ``random.sample(range(n), num_samples)`` over the faces in the pickle's own order;
2. shuffles the kept positions with ``random.shuffle``;
3. takes the first ``int(n_kept * (1 - 0.1))`` as the training set, which is also the search
   base, and the rest as queries ("val"), both in shuffled order.

:func:`reference_split` does the same with a private ``random.Random(seed)`` (the same stream as
``random.seed(seed)``, without touching the global state), so ``load_dataset(..., split="reference")``
gives the reference's base and queries for the same seed and data: the same rows in the same
order. numpy's generator (our default ``split="random"``) gives another split for the same seed.
"""

import random

import numpy as np

#: How the reference keeps ``num_samples`` rows before shuffling.
SAMPLINGS = ("head", "sample")


def reference_split(n, seed, n_samples=None, *, query_fraction=0.1, sampling="head"):
    """Row indices of the reference's training/base set and of its queries.

    Parameters
    ----------
    n : int
        Rows available, in the order the reference reads them.
    seed : int
        The reference's ``--seed``.
    n_samples : int, optional
        The reference's ``--num_samples`` (all rows if None; at most ``n``, as in the reference).
    query_fraction : float
        The reference's ``val_split`` (0.1).
    sampling : {"head", "sample"}
        ``"head"``: keep the first ``n_samples`` rows (IMDb, ImageNet, Flickr30k and any single
        matrix); ``"sample"``: ``random.sample`` them first (CelebA).

    Returns
    -------
    base_idx, query_idx : ndarray of int64
        Indices into the ``n`` rows, **in the reference's order** (not sorted): keep it, since
        faiss breaks distance ties by position.

    Raises
    ------
    ValueError
        ``sampling`` unknown, ``query_fraction`` outside (0, 1), or fewer than 2 rows kept.

    Examples
    --------
    >>> b, q = reference_split(10, seed=42)
    >>> len(b), len(q)
    (9, 1)
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if not 0 < query_fraction < 1:
        raise ValueError(f"query_fraction must be in (0, 1), got {query_fraction}")
    n = int(n)
    kept = n if n_samples is None else min(int(n_samples), n)
    if kept < 2:
        raise ValueError(f"the reference split needs at least 2 rows, got n={n}, n_samples={n_samples}")
    rnd = random.Random(seed)
    rows = rnd.sample(range(n), kept) if sampling == "sample" else list(range(kept))
    ids = list(range(kept))
    rnd.shuffle(ids)
    cut = int(kept * (1 - query_fraction))
    if not 0 < cut < kept:
        raise ValueError(f"query_fraction={query_fraction} leaves an empty base or query set of {kept} rows")
    rows = np.asarray(rows, dtype=np.int64)
    return rows[np.asarray(ids[:cut], dtype=np.int64)], rows[np.asarray(ids[cut:], dtype=np.int64)]
