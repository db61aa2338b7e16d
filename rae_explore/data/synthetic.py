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
