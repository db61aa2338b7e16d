"""Generated datasets for tests and demos: seeded, with a known intrinsic dimension."""

import numpy as np

from .datasets import Dataset


def synthetic(d=32, nb=1000, nq=100, nt=0, intrinsic_dim=8, seed=0, noise=0.01, metric="l2"):
    """A seeded Gaussian dataset lying near a random ``intrinsic_dim``-dimensional subspace.

    Points are ``z @ A + noise``, with ``z ~ N(0, diag(s))`` (decaying scales ``s``) in
    ``intrinsic_dim`` dimensions and ``A`` a random orthonormal ``(intrinsic_dim, d)`` map, so
    PCA recovers the subspace and the intrinsic dimension is known. For tests and demos.

    Returns
    -------
    Dataset with float32 ``xb`` (nb, d), ``xq`` (nq, d), ``xt`` (nt, d) or None.
    """
    if not 1 <= intrinsic_dim <= d:
        raise ValueError(f"intrinsic_dim must be in [1, d={d}], got {intrinsic_dim}")
    rng = np.random.default_rng(seed)
    A, _ = np.linalg.qr(rng.standard_normal((d, intrinsic_dim)))
    scales = np.linspace(1.0, 0.3, intrinsic_dim)

    def draw(n):
        z = rng.standard_normal((n, intrinsic_dim)) * scales
        return (z @ A.T + noise * rng.standard_normal((n, d))).astype(np.float32)

    xb, xq = draw(nb), draw(nq)
    xt = draw(nt) if nt else None
    return Dataset(f"synthetic-d{d}-id{intrinsic_dim}", xb, xq, xt, metric=metric,
                   meta={"intrinsic_dim": intrinsic_dim, "seed": seed, "noise": noise})


# --------------------------------------------------------------------------- SIFT-like files at scale
_CHUNK = 65536  # rows per random stream: the values do not depend on how a caller blocks its reads


def _sift_like_map(d, intrinsic_dim, seed):
    rng = np.random.default_rng([seed, 0, 0])
    return rng.standard_normal((intrinsic_dim, d)) / np.sqrt(intrinsic_dim), rng.uniform(-0.6, 0.2, d)


def sift_like(n, d=128, intrinsic_dim=16, seed=0, *, stream=0, start=0):
    """Rows ``start .. start + n`` of a seeded SIFT-like uint8 set with a known intrinsic dimension.

    Each row is ``clip(round(40 * relu(z A + b)), 0, 255)`` with ``z ~ N(0, I)`` in
    ``intrinsic_dim`` dimensions and a fixed random ``A`` (``intrinsic_dim x d``) and offset
    ``b``: non-negative, skewed, about half zeros, like SIFT descriptors, on a piecewise-linear
    ``intrinsic_dim``-dimensional manifold (plus rounding). Row ``i`` of ``stream`` is the same
    whatever ``start`` and ``n`` are asked, so a 1M prefix of a 10M file is the 1M set.

    Parameters
    ----------
    n, d, intrinsic_dim, seed : int
    stream : int
        0 for base vectors, 1 for queries (independent draws from the same distribution).
    start : int
        Index of the first row.

    Returns
    -------
    ndarray, uint8, shape (n, d)
    """
    if not 1 <= intrinsic_dim <= d:
        raise ValueError(f"intrinsic_dim must be in [1, d={d}], got {intrinsic_dim}")
    A, b = _sift_like_map(d, intrinsic_dim, seed)
    out = np.empty((n, d), dtype=np.uint8)
    i = start
    while i < start + n:
        chunk, off = divmod(i, _CHUNK)
        take = min(_CHUNK - off, start + n - i)
        z = np.random.default_rng([seed, 1 + stream, chunk]).standard_normal((_CHUNK, intrinsic_dim))[off:off + take]
        out[i - start:i - start + take] = np.clip(np.rint(40.0 * np.maximum(z @ A + b, 0.0)), 0, 255)
        i += take
    return out


def write_sift_like_bvecs(path, n, d=128, intrinsic_dim=16, seed=0, *, stream=0, verbose=False):
    """Write :func:`sift_like` rows ``0 .. n`` as a ``.bvecs`` file, a block at a time, atomically.

    Memory stays at one block (64k rows) whatever ``n``; 10M x 128 is 1.32 GB on disk.

    Returns
    -------
    Path
    """
    from pathlib import Path

    from ..atomic import atomic_path
    from ..progress import progress_bar

    rec = np.dtype([("dim", "<i4"), ("vec", "u1", (d,))])
    starts = range(0, n, _CHUNK)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for a in progress_bar(starts, desc=f"writing {Path(path).name}", unit="block", disable=not verbose):
            block = np.empty(min(_CHUNK, n - a), dtype=rec)
            block["dim"] = d
            block["vec"] = sift_like(len(block), d, intrinsic_dim, seed, stream=stream, start=a)
            f.write(block.tobytes())
    return Path(path)
