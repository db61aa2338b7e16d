"""NPP: the choice of the starting linear map, the start itself, training gains, the numpy transform."""

import numpy as np
import pytest

from rae_explore.neighbors.metrics import top_k_accuracy
from rae_explore.reducers import NPP, make_reducer
from rae_explore.reducers.npp import best_linear_map, linear_candidates


def _brute_knn(Q, B, k, exclude=None):
    """numpy brute force (squared l2), optional own-row exclusion."""
    D = ((Q[:, None, :].astype(np.float64) - B[None].astype(np.float64)) ** 2).sum(-1)
    if exclude is not None:
        D[np.arange(len(Q)), exclude] = np.inf
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def test_best_linear_map_scores_every_candidate_on_the_training_rows(tiny):
    X = tiny.xb[:300] + 2.0
    name, W, _, scores = best_linear_map(X, 4, "l2", k=5, n_select=300, random_state=0)
    cands = linear_candidates(X, 4)
    assert set(scores) == set(cands) and {"pca", "pca_uncentered"} <= set(scores)
    assert scores[name] == max(scores.values())
    np.testing.assert_allclose(W, cands[name][0])
    # independent check of one score: numpy brute force, every row a query, itself excluded
    Wp, bp = cands["pca"]
    Z = X @ Wp.T + bp
    ids = np.arange(len(X))
    ref = top_k_accuracy(_brute_knn(X, X, 5, ids), _brute_knn(Z, Z, 5, ids), 5)
    assert scores["pca"] == pytest.approx(ref, abs=0.01)  # float32 ties may differ


@pytest.mark.parametrize("input_components", [None, 2])
def test_training_starts_at_the_best_linear_map(tiny, input_components):
    X = tiny.xb[:300]
    red = NPP(4, hidden=0, steps=1, lr=1e-12, n_select=300, input_components=input_components, random_state=0).fit(X)
    _, W, b, _ = best_linear_map(X, 4, "l2", k=10, n_select=300, random_state=0)
    np.testing.assert_allclose(red.transform(X) * red.scale_, X @ W.T + b, rtol=1e-4, atol=1e-3)
    assert red.init_ in red.init_scores_
    assert ("P" in red.weights_) == (input_components is not None)  # 2 * 4 < 32 input features


def test_the_best_checkpoint_on_held_out_rows_is_kept(tiny):
    X = tiny.xb[:400]
    red = NPP(4, hidden=16, steps=30, mine_every=10, random_state=0).fit(X)
    scores = [red.start_score_] + [h["val_top_k"] for h in red.history_]
    assert [h["step"] for h in red.history_] == [10, 20, 30]
    assert scores[[0, 10, 20, 30].index(red.best_step_)] == max(scores)
    # a fine-tune that ruins the map (a huge learning rate) falls back to its start
    bad = NPP(4, hidden=0, steps=10, lr=3.0, mine_every=10, random_state=0)
    ref = NPP(4, hidden=0, steps=1, lr=1e-12, random_state=0).fit(X)
    np.testing.assert_allclose(bad.fit(X).transform(X), ref.transform(X), rtol=1e-4, atol=1e-4)
    assert bad.best_step_ == 0 and bad.history_[-1]["val_top_k"] < bad.start_score_


def test_fine_tuning_keeps_more_neighbours_than_its_start(sift5k):
    """On held-out queries of real SIFT (1,500 base rows, 128 -> 16): measured 0.485 -> 0.518 top-10 (lr 1e-3)."""
    from rae_explore.neighbors.knn import knn_search

    xb, xq = sift5k.xb[:1500], sift5k.xq[:200]
    gt = knn_search(xq, xb, 10)[1]

    def acc(red):
        red.fit(xb)
        return top_k_accuracy(gt, knn_search(red.transform(xq), red.transform(xb), 10)[1], 10)

    start = acc(NPP(16, hidden=0, steps=1, lr=1e-12, random_state=0))
    tuned = acc(NPP(16, steps=150, batch_size=256, random_state=0))
    assert tuned > start + 0.015, (start, tuned)


@pytest.mark.parametrize("input_components", [None, 2])
def test_numpy_transform_matches_the_torch_model(tiny, input_components):
    import torch

    X = tiny.xb[:200]
    red = NPP(3, hidden=8, steps=20, validation_fraction=0, input_components=input_components, random_state=1).fit(X)
    w = {k: torch.as_tensor(v) for k, v in red.weights_.items()}
    assert float(w["V"].abs().max()) > 0  # the MLP branch trained away from its zero start
    u = torch.as_tensor(tiny.xq / np.float32(red.scale_)) - w["shift"]
    if input_components:
        u = u @ w["P"].T
    ref = u @ w["W"].T + w["b"] + torch.nn.functional.gelu(u @ w["U"].T + w["c"]) @ w["V"].T
    np.testing.assert_allclose(red.transform(tiny.xq), ref.numpy(), rtol=1e-4, atol=1e-5)


def test_metric_auto_reads_unit_rows(tiny):
    X = tiny.xb[:200]
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert NPP(3, steps=2, random_state=0).fit(U).metric_ == "cosine"
    assert NPP(3, steps=2, random_state=0).fit(X).metric_ == "l2"
    assert NPP(3, metric="l2", steps=2, random_state=0).fit(U).metric_ == "l2"


def test_bad_parameters_are_named(tiny):
    X = tiny.xb[:100]
    with pytest.raises(ValueError, match="metric must be one of"):
        NPP(2, metric="ip").fit(X)
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        NPP(2, lr=0).fit(X)
    with pytest.raises(ValueError, match="hidden"):
        NPP(2, hidden=-1).fit(X)
    with pytest.raises(ValueError, match="more training rows than n_neighbors=10"):
        NPP(2).fit(X[:8])
    with pytest.raises(ValueError, match="more training rows than n_neighbors=10 once validation_fraction"):
        NPP(2).fit(X[:11])  # 10 rows once one is held out
    with pytest.raises(ValueError, match="validation_fraction must be a number in"):
        NPP(2, validation_fraction=1).fit(X)
    assert isinstance(make_reducer("npp", n_components=2), NPP)


def test_gathered_squared_distances_match_numpy():
    import torch

    from rae_explore.reducers.npp import _gathered_sq_dist

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 7)).astype(np.float32)
    I = rng.integers(0, 50, (50, 4))
    Xt = torch.from_numpy(X)
    out = _gathered_sq_dist(torch, Xt, (Xt ** 2).sum(1), torch.from_numpy(I), rows=16).numpy()  # blocks + last partial
    ref = ((X[:, None, :].astype(np.float64) - X[I]) ** 2).sum(-1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
