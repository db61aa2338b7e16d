"""Every dimensionality-reduction method behind one scikit-learn interface, found by name.

>>> from rae_explore.reducers import make_reducer
>>> red = make_reducer("pca", n_components=16, random_state=0)   # doctest: +SKIP
>>> Z = red.fit(X).transform(X)                                   # float32, (n, 16)

The registry :data:`REDUCERS` maps a lower-case name to a class; :func:`make_reducer` builds one
from a name and a params dict (what notebooks and sweeps pass around). Every reducer accepts
``n_components`` and ``random_state``. Every reducer follows
the scikit-learn contract: hyperparameters stored verbatim in ``__init__`` (``n_components``
first, the rest keyword-only), all checks in ``fit``, ``fit`` returns ``self``, learned state
ends in ``_``, ``transform`` returns float32 ``(n_samples, n_components)`` and raises
``NotFittedError`` before ``fit``.

Linear reducers (``pca``, ``rp``, ``lpp``, ``rae``) map ``x -> (x - mean_) @ components_.T +
intercept_`` and expose, after fit:

- ``components_`` : float32 (n_components, n_features), the encoder matrix;
- ``mean_`` : float32 (n_features,), the centre subtracted first (zeros if none);
- ``intercept_`` : float32 (n_components,), added after the map (zeros unless RAE has a bias);
- ``singular_values_`` : float64 (n_components,), singular values of ``components_``, descending
  (of the *encoder map*, not of the data: for PCA they are all 1);
- ``condition_number_`` : float, ``singular_values_[0] / singular_values_[-1]`` (``inf`` if the
  map is rank deficient).

The baselines follow the RAE paper's reference ``baselines.py`` (github.com/explorerZH/RAE-KDD2026)
so that numbers are comparable; where it differs from the reference it says so.
"""

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..validation import as_float32, check_int

logger = logging.getLogger(__name__)

REDUCERS = {}


class DimensionWarning(UserWarning):
    """``n_components`` equals the input dimension: the "reduction" reduces nothing."""


def register_reducer(name, cls=None):
    """Add ``cls`` to :data:`REDUCERS` under the lower-case ``name`` (without ``cls``: a class decorator).

    The built-in reducers are registered in :mod:`rae_explore.reducers`; call this to add your own
    so that :func:`make_reducer`, sweeps and notebooks find it by name.
    """

    def deco(cls):
        key = name.lower()
        if key in REDUCERS and REDUCERS[key] is not cls:
            raise ValueError(f"reducer name {key!r} is already registered to {REDUCERS[key].__name__}")
        REDUCERS[key] = cls
        cls.registry_name = key
        return cls

    return deco if cls is None else deco(cls)


def make_reducer(name, **params):
    """Build a reducer from its registered name and keyword hyperparameters.

    Parameters
    ----------
    name : str
        Registered name, case-insensitive: ``"pca"``, ``"rp"``, ``"umap"``, ``"isomap"``,
        ``"mds"``, ``"lpp"``, ``"rae"`` (see :data:`REDUCERS`). The reference code's spellings
        (``"PCA"``, ``"ISOMAP"``, ...) work too.
    **params
        Passed to the class, e.g. ``n_components=64, random_state=0, alpha=1e-7``.

    Returns
    -------
    An unfitted estimator.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known names).
    TypeError
        A parameter the class does not take (the message lists the ones it does).

    Examples
    --------
    >>> rae = make_reducer("rae", n_components=64, alpha=1e-7, random_state=0)  # doctest: +SKIP
    """
    if not isinstance(name, str):
        raise TypeError(f"reducer name must be a string, got {name!r}")
    key = name.lower()
    if key not in REDUCERS:
        raise ValueError(f"unknown reducer {name!r}; known reducers: {', '.join(sorted(REDUCERS))}")
    cls = REDUCERS[key]
    allowed = set(cls._get_param_names())
    bad = sorted(set(params) - allowed)
    if bad:
        raise TypeError(f"{cls.__name__} got unknown parameter(s) {bad}; it takes {sorted(allowed)}")
    return cls(**params)


class Reducer(TransformerMixin, BaseEstimator):
    """Base class: input checks shared by every reducer.

    Class attributes
    ----------------
    linear : bool
        The fitted map is ``x -> (x - mean_) @ components_.T + intercept_``.
    out_of_sample : str
        How new points are embedded: ``"exact"`` (the learned map applies as is), ``"native"``
        (the method's own extension, e.g. UMAP's / Isomap's ``transform``) or ``"ridge"``
        (a regression fitted to the training embedding; not the method itself).
    """

    linear = False
    out_of_sample = "exact"
    registry_name = None

    # -- checks --------------------------------------------------------------------------------
    def _check_fit_X(self, X, min_samples=2):
        """``X`` for ``fit`` (:func:`~rae_explore.validation.as_float32`, at least ``min_samples`` rows),
        with ``n_components`` checked against its dimension; sets ``n_features_in_``."""
        X = as_float32(X, "X", min_samples=min_samples, by=type(self).__name__)
        d = X.shape[1]
        m = check_int(self.n_components, "n_components", low=1)
        if m > d:
            raise ValueError(
                f"n_components={m} is larger than the input dimension n_features={d}; "
                f"a reduction needs n_components <= {d}"
            )
        if m == d:
            warnings.warn(f"n_components={m} equals n_features: nothing is reduced", DimensionWarning, stacklevel=3)
        self.n_features_in_ = d
        return X

    def _check_transform_X(self, X):
        check_is_fitted(self)
        X = as_float32(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input (dimension mismatch: transform vectors from the embedding model the reducer was fitted on)"
            )
        return X

    def _rng(self):
        return np.random.default_rng(self.random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float32"]  # every reducer returns float32
        return tags

    def fit_transform(self, X, y=None, **fit_params):
        """``fit(X).transform(X)``: the same map is applied to training and new points."""
        return self.fit(X, y, **fit_params).transform(X)


class LinearReducer(Reducer):
    """A reducer whose fitted map is linear (plus offsets); subclasses set ``components_``, ``mean_``."""

    linear = True

    def _finish_linear(self, components, mean=None, intercept=None):
        """Store the map and its singular values / condition number."""
        from .diagnostics import condition_number, singular_values

        W = np.ascontiguousarray(components, dtype=np.float32)
        m, d = W.shape
        self.components_ = W
        self.mean_ = np.zeros(d, np.float32) if mean is None else np.asarray(mean, np.float32).reshape(d)
        self.intercept_ = np.zeros(m, np.float32) if intercept is None else np.asarray(intercept, np.float32).reshape(m)
        self.singular_values_ = singular_values(W)
        self.condition_number_ = condition_number(W)
        return self

    def transform(self, X):
        """Apply the learned linear map.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray, float32, shape (n_samples, n_components)
        """
        X = self._check_transform_X(X)
        Z = (X - self.mean_) @ self.components_.T
        Z += self.intercept_
        return Z.astype(np.float32, copy=False)
