"""The reducer registry, the scikit-learn contract over every entry, and each baseline's specifics."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from rae_explore.reducers import REDUCERS, DimensionWarning, make_reducer

# small budgets so the contract runs in seconds
FAST = {
    "rae": {"steps": 30},
    "mds": {"max_iter": 30},
    "umap": {"n_epochs": 30},
}


def _fast_params(name):
    cls = REDUCERS[name]
    params = dict(FAST.get(name, {}))
    names = cls._get_param_names()
    for key, value in (("steps", 30), ("max_epochs", 2), ("device", "cpu")):
        if key in names:
            params.setdefault(key, value)
    return params


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_contract(name, X, tiny):
    red = make_reducer(name, n_components=4, **_fast_params(name))
    with pytest.raises(NotFittedError):
        red.transform(X)
    assert red.fit(X) is red
    Z = red.transform(tiny.xq)
    assert Z.shape == (tiny.nq, 4) and Z.dtype == np.float32 and np.isfinite(Z).all()
    assert red.n_features_in_ == X.shape[1]
    # clone: same hyperparameters, no learned state
    c = clone(red)
    assert c.get_params() == red.get_params()
    with pytest.raises(NotFittedError):
        c.transform(X)
    # reproducible from the seed
    Z1 = make_reducer(name, n_components=4, random_state=3, **_fast_params(name)).fit(X).transform(tiny.xq)
    Z2 = make_reducer(name, n_components=4, random_state=3, **_fast_params(name)).fit(X).transform(tiny.xq)
    np.testing.assert_array_equal(Z1, Z2)
    # clear errors
    with pytest.raises(ValueError, match="expecting 32 features"):
        red.transform(tiny.xq[:, :16])
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf.*row 3"):
        clone(red).fit(bad)
    with pytest.raises(ValueError, match="n_components=40 is larger than the input dimension"):
        red.set_params(n_components=40).fit(X)


@pytest.mark.parametrize("name", sorted(set(REDUCERS) - {"umap"}))  # umap: slow numba paths, long check list
def test_sklearn_check_estimator(name):
    from sklearn.utils.estimator_checks import check_estimator

    params = _fast_params(name)
    if "n_neighbors" in REDUCERS[name]._get_param_names():
        params["n_neighbors"] = 3  # check data can have few rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(make_reducer(name, n_components=1, random_state=0, **params), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed


def test_make_reducer_names_and_errors():
    assert isinstance(make_reducer("ISOMAP", n_components=2), REDUCERS["isomap"])  # the reference's spelling
    with pytest.raises(ValueError, match="unknown reducer 'tsne'.*isomap.*lpp.*mds.*pca.*rae.*rp.*umap"):
        make_reducer("tsne")
    with pytest.raises(TypeError, match="unknown parameter.*'n_neighbours'"):
        make_reducer("isomap", n_neighbours=5)
    for name in REDUCERS:
        assert REDUCERS[name].registry_name == name and name == name.lower()
        # the call other modules make must work for every reducer
        assert make_reducer(name, n_components=3, random_state=0).get_params()["random_state"] == 0


def test_equal_dimension_warns(X):
    with pytest.warns(DimensionWarning):
        make_reducer("pca", n_components=32).fit(X)
