"""Catalyzer: exact triplet sampling, negatives per epoch, KoLeo's spreading, the schedule, seeds, errors."""

import numpy as np
import pytest

from rae_explore.reducers import REDUCERS, make_reducer
from rae_explore.reducers.neural.catalyzer import (
    Catalyzer,
    catalyzer_epochs,
    triplet_negatives,
    triplet_positives,
)

FAST = {"hidden": 32, "batch_size": 64, "rank_positive": 5, "rank_negative": 20, "device": "cpu"}


def _brute_knn(X, k):
    D = ((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def _nn_distances(Z):
    D = np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    return D.min(axis=1)


@pytest.fixture(scope="module")
def X(tiny):
    return tiny.xb[:300]


@pytest.fixture(scope="module")
def fitted(X):
    return Catalyzer(8, max_epochs=4, lambda_uniform=0.05, random_state=0, **FAST).fit(X)


def test_registered_by_name():
    assert REDUCERS["catalyzer"] is Catalyzer
    assert isinstance(make_reducer("catalyzer", n_components=4), Catalyzer)


def test_positives_are_the_exact_input_neighbours_without_self(X, fitted):
    ref = _brute_knn(X, 5)
    np.testing.assert_array_equal(triplet_positives(X, 5), ref)
    np.testing.assert_array_equal(fitted.positives_, ref)
    assert not (fitted.positives_ == np.arange(len(X))[:, None]).any()
    # the reference's rule, on request: the point itself and its 4 nearest others
    with_self = triplet_positives(X, 5, include_self=True)
    np.testing.assert_array_equal(with_self[:, 0], np.arange(len(X)))
    np.testing.assert_array_equal(with_self[:, 1:], ref[:, :4])


def test_negatives_are_the_rank_th_output_neighbour_and_change_between_epochs(fitted):
    codes = np.random.default_rng(0).standard_normal((200, 4)).astype(np.float32)
    np.testing.assert_array_equal(triplet_negatives(codes, 7), _brute_knn(codes, 7)[:, -1])
    changed = [row["negatives_changed"] for row in fitted.history_]
    assert np.isnan(changed[0])  # nothing to compare with before the first epoch
    assert all(c > 0 for c in changed[1:])
    assert fitted.negatives_.shape == (300,) and not (fitted.negatives_ == np.arange(300)).any()


def test_koleo_spreads_unit_norm_codes(X, tiny):
    kw = dict(FAST, max_epochs=6)
    Z0 = Catalyzer(8, lambda_uniform=0.0, random_state=0, **kw).fit(X).transform(X)
    Z1 = Catalyzer(8, lambda_uniform=1.0, random_state=0, **kw).fit(X).transform(X)
    for Z in (Z0, Z1):
        np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    d0, d1 = _nn_distances(Z0), _nn_distances(Z1)
    assert d1.min() > d0.min() and d1.mean() > d0.mean()


def test_stepped_schedule_and_history(fitted):
    assert [row["lr"] for row in fitted.history_] == pytest.approx([0.1, 0.1, 0.05, 0.01])
    assert [row["epoch"] for row in fitted.history_] == [1, 2, 3, 4]
    steps = [row["step"] for row in fitted.history_]
    assert steps == sorted(steps) and steps[-1] == fitted.n_iter_ == 4 * 5  # 300 rows / 64 -> 5 steps an epoch
    assert {"triplet", "koleo", "offending"} <= set(fitted.history_[0])
    paper = Catalyzer(8, preset="paper")._training_params()
    assert (paper["hidden"], paper["batch_size"], paper["max_epochs"], paper["lr"]) == (1024, 64, 160, 0.1)


def test_auto_epochs_shrink_for_large_sets(X):
    assert [catalyzer_epochs(n) for n in (300, 4_500, 50_000, 80_000, 100_000, 10**7)] == [8, 8, 8, 5, 4, 4]
    cat = Catalyzer(4, random_state=0, **FAST).fit(X[:100])  # max_epochs="auto" by default
    assert cat.training_params_["max_epochs"] == len(cat.history_) == 8
    assert [row["lr"] for row in cat.history_] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.01, 0.01])
    with pytest.raises(ValueError, match="max_epochs must be a positive integer or 'auto'"):
        Catalyzer(4, max_epochs="many", **FAST).fit(X[:50])


def test_seeded_and_reproducible(X, tiny, fitted):
    again = Catalyzer(8, max_epochs=4, lambda_uniform=0.05, random_state=0, **FAST).fit(X)
    np.testing.assert_array_equal(fitted.transform(tiny.xq), again.transform(tiny.xq))
    other = Catalyzer(8, max_epochs=4, lambda_uniform=0.05, random_state=1, **FAST).fit(X)
    assert not np.allclose(fitted.transform(tiny.xq), other.transform(tiny.xq))


@pytest.mark.parametrize("params, match", [
    ({"rank_positive": 30, "rank_negative": 20}, "rank_positive=30 must be <= rank_negative=20"),
    ({"rank_negative": 0}, "rank_negative must be an integer >= 1"),
    ({"lr_steps": ()}, "lr_steps must be a non-empty sequence"),
    ({"lr_steps": (1.0, -1.0)}, r"lr_steps\[1\] must be > 0"),
    ({"preset": "fast"}, "preset must be None or one of"),
    ({"lambda_uniform": -1.0}, "lambda_uniform must be >= 0"),
    ({"batch_size": 1}, "batch_size must be an integer >= 2"),
])
def test_bad_parameters_are_named(X, params, match):
    with pytest.raises(ValueError, match=match):
        Catalyzer(4, **dict(FAST, **params)).fit(X[:50])


def test_ranks_beyond_the_data_warn_and_shrink(X):
    with pytest.warns(UserWarning, match="rank_negative=20 is larger than the 10 training rows"):
        cat = Catalyzer(2, max_epochs=1, random_state=0, **FAST).fit(X[:10])
    assert cat.positives_.shape == (10, 5)
    with pytest.raises(NotImplementedError, match="no decoder"):
        cat.inverse_transform(np.zeros((1, 2), np.float32))


def test_ivf_negatives_are_near_the_exact_rank_and_auto_picks_by_size(X):
    codes = np.random.default_rng(1).standard_normal((1200, 4)).astype(np.float32)
    exact = triplet_negatives(codes, 10)
    approx = triplet_negatives(codes, 10, "ivf", random_state=0)
    assert approx.shape == (1200,) and not (approx == np.arange(1200)).any()
    assert (approx == exact).mean() > 0.9  # 32 probed lists of 2 sqrt(n): nearly always the exact 10th
    ref_like = triplet_negatives(codes, 10, "hnsw")  # the reference's CPU search: self among the 10 found
    assert (ref_like == _brute_knn(codes, 9)[:, -1]).mean() > 0.9
    with pytest.raises(ValueError, match="search must be 'exact', 'ivf' or 'hnsw'"):
        triplet_negatives(codes, 10, "flat")
    assert Catalyzer(4, max_epochs=1, random_state=0, **FAST).fit(X[:100]).negative_search_ == "exact"
    cat = Catalyzer(4, max_epochs=1, random_state=0, negatives="ivf", **FAST).fit(X[:100])
    assert cat.negative_search_ == "ivf" and cat.negatives_.shape == (100,)
    with pytest.raises(ValueError, match="negatives must be one of"):
        Catalyzer(4, negatives="flat", **FAST).fit(X[:50])


def test_ivf_negatives_keep_the_asked_rank_on_many_codes():
    # unit codes of 16 dimensions, 6,000 of them: the IVF search probes 32 of its 154 lists and must
    # still find about the 30th neighbour (an index that misses neighbours returns a farther, easier one)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((6000, 16)).astype(np.float32)
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    neg = triplet_negatives(codes, 30, "ivf", random_state=0)
    rows = np.arange(0, 6000, 20)
    D = ((codes[rows, None, :] - codes[None, :, :]) ** 2).sum(-1)
    D[np.arange(len(rows)), rows] = np.inf
    rank = (D < D[np.arange(len(rows)), neg[rows]][:, None]).sum(axis=1) + 1  # 1 = the nearest other code
    assert np.median(rank) <= 34 and np.percentile(rank, 90) <= 40  # the earlier 16 probes of 4 sqrt(n): 38 and 46
    assert (neg != np.arange(6000)).all()
