"""First and second moments of a base in one pass, in blocks: what PCA and RAE's closed form need.

PCA (centred or not) and the closed-form RAE depend on the data only through ``n``, the mean
and the ``d x d`` scatter matrix. :class:`Moments` accumulates them over row blocks of a
memory-mapped base in float64, so a base larger than memory is read once and never gathered:

- ``update(X_block)`` adds rows; ``merge(other)`` adds another accumulator's rows (a reduction
  across processes or Dask workers: partial moments of disjoint blocks merge exactly);
- ``mean``, ``scatter(center=True)`` (``sum (x - mean)(x - mean)^T``) and ``covariance()``.

:func:`moments` makes one pass over an array (checking each block for NaN/inf); reducers whose
fit needs only these sums (PCA, closed-form RAE) take the result in ``fit_from_moments``, and
:func:`rae_explore.experiments.distributed.distributed_moments` builds it across Dask workers.

Rows are accumulated relative to a shift (the mean of the first block), so the centred scatter
does not lose digits to cancellation when the data sit far from the origin (SIFT's 0-255).
Memory: ``O(d^2)`` plus one block of ``block_rows x d`` float64.
"""

import numpy as np

from ..validation import check_2d, check_positive_int

DEFAULT_BLOCK_ROWS = 65536


class Moments:
    """Running count, mean and scatter of row vectors (float64).

    Parameters
    ----------
    d : int
        Vector dimension.

    Attributes
    ----------
    n : int
        Rows seen.
    shift : ndarray, float64 (d,) or None
        The reference point the sums are taken around (the first block's mean).
    sum_ : ndarray, float64 (d,)
        ``sum (x - shift)``.
    outer_ : ndarray, float64 (d, d)
        ``sum (x - shift)(x - shift)^T``.
    """

    def __init__(self, d):
        self.d = check_positive_int(d, "d")
        self.n = 0
        self.shift = None
        self.sum_ = np.zeros(self.d)
        self.outer_ = np.zeros((self.d, self.d))

    def update(self, X):
        """Add the rows of ``X`` (shape ``(n, d)``, any real dtype; converted a block at a time)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ValueError(f"Moments.update: expected rows of dimension {self.d}, got an array of shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("Moments.update: the block holds NaN or inf; clean the base before fitting")
        if X.shape[0] == 0:
            return self
        if self.shift is None:
            self.shift = X.mean(axis=0)
        Y = X - self.shift
        self.n += X.shape[0]
        self.sum_ += Y.sum(axis=0)
        self.outer_ += Y.T @ Y
        return self

    def merge(self, other):
        """Add another accumulator's rows (exact: the result equals one pass over both)."""
        if other.d != self.d:
            raise ValueError(f"Moments.merge: dimensions differ ({self.d} and {other.d})")
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.shift, self.sum_, self.outer_ = other.n, other.shift.copy(), other.sum_.copy(), other.outer_.copy()
            return self
        # re-express the other's sums around this shift: y' = y + delta, delta = other.shift - self.shift
        delta = other.shift - self.shift
        s = other.sum_
        self.outer_ += other.outer_ + np.outer(s, delta) + np.outer(delta, s) + other.n * np.outer(delta, delta)
        self.sum_ += s + other.n * delta
        self.n += other.n
        return self

    @property
    def mean(self):
        """float64 (d,): the mean of the rows seen."""
        self._check_some()
        return self.shift + self.sum_ / self.n

    def scatter(self, center=True):
        """float64 (d, d): ``sum (x - mean)(x - mean)^T`` if ``center``, else ``sum x x^T``."""
        self._check_some()
        m = self.sum_ / self.n  # mean - shift
        centred = self.outer_ - self.n * np.outer(m, m)
        if center:
            return centred
        mu = self.mean
        return centred + self.n * np.outer(mu, mu)

    def covariance(self, ddof=1):
        """float64 (d, d): the centred scatter divided by ``n - ddof``."""
        if self.n - ddof <= 0:
            raise ValueError(f"Moments.covariance: {self.n} row(s) are too few for ddof={ddof}")
        return self.scatter(center=True) / (self.n - ddof)

    def _check_some(self):
        if self.n == 0:
            raise ValueError("Moments: no rows seen yet; call update() with some data first")


def moments(X, block_rows=DEFAULT_BLOCK_ROWS, *, preprocess=None, name="X", offset=0, verbose=False):
    """:class:`Moments` of all rows of ``X`` in one pass of ``block_rows`` rows.

    Parameters
    ----------
    X : array-like, shape (n, d)
        A memory map is read a block at a time and never converted whole; its pages are
        released after each block, so the pass does not grow the process's RSS.
    block_rows : int
    preprocess : callable, optional
        Applied to each float32 block before it is added (e.g. a reducer's ``preprocess``, the
        L2 normalisation of ``RAE(normalize=True)``).
    name : str
        Argument name in error messages.
    offset : int
        Added to row numbers in error messages (``X`` holds rows from ``offset`` on of a larger base).
    verbose : bool
        tqdm progress over the blocks.

    Returns
    -------
    Moments

    Raises
    ------
    ValueError
        A block holds NaN or inf (the message names the first bad row).
    """
    from ..neighbors.knn import release_pages
    from ..progress import progress_bar
    from ..validation import assert_finite

    X = X if hasattr(X, "ndim") else np.asarray(X)
    check_2d(X, name)
    block_rows = check_positive_int(block_rows, "block_rows")
    acc = Moments(X.shape[1])
    starts = range(0, X.shape[0], block_rows)
    for a in progress_bar(starts, desc="moments", unit="block", disable=not verbose):
        blk = np.asarray(X[a:a + block_rows])
        assert_finite(blk, name, offset=offset + a)
        if preprocess is not None:
            blk = preprocess(np.asarray(blk, dtype=np.float32))
        acc.update(blk)
        release_pages(X)
    return acc


def check_moments_fit(estimator, mom, min_samples=2):
    """Check ``estimator.n_components`` against accumulated moments and set ``n_features_in_``.

    The checks :meth:`~rae_explore.reducers.base.Reducer._check_fit_X` makes on an array, with
    the same messages, for a fit from :class:`Moments` (``fit_from_moments``).

    Raises
    ------
    TypeError
        ``mom`` is not a :class:`Moments`, or ``n_components`` is not an integer.
    ValueError
        Fewer than ``min_samples`` rows, ``n_components`` larger than the dimension or the rows.
    """
    import warnings

    from ..validation import check_int
    from .base import DimensionWarning

    if not isinstance(mom, Moments):
        raise TypeError(f"fit_from_moments needs a Moments (rae_explore.reducers.moments.moments(X)), got "
                        f"{type(mom).__name__}")
    by = type(estimator).__name__
    if mom.n < min_samples:
        raise ValueError(f"the moments hold {mom.n} sample(s) while a minimum of {min_samples} is required by {by}; "
                         f"accumulate at least {min_samples} rows.")
    d = mom.d
    m = check_int(estimator.n_components, "n_components", low=1)
    if m > d:
        raise ValueError(f"n_components={m} is larger than the input dimension n_features={d}; "
                         f"a reduction needs n_components <= {d}")
    if m > mom.n:
        raise ValueError(f"{by}: n_components={m} exceeds the {mom.n} rows the moments hold")
    if m == d:
        warnings.warn(f"n_components={m} equals n_features: nothing is reduced", DimensionWarning, stacklevel=3)
    estimator.n_features_in_ = d
    return mom
