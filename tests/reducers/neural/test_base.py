"""The shared part of the four autoencoders: switches, preset, held-out split, memory maps, blockwise transform."""

import numpy as np
import pytest
from sklearn.base import clone

from rae_explore.reducers import make_reducer
from rae_explore.reducers.neural.base import PRESETS, NeuralReducer, standardisation

NAMES = ("vanilla_ae", "dcec", "hyperae", "nrae")
FAST = {"max_epochs": 3, "device": "cpu", "hidden": 32}


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_codes_and_clone_round_trips(name, X, tiny):
    red = make_reducer(name, n_components=4, random_state=7, **FAST)
    assert isinstance(red, NeuralReducer)
    Z1 = red.fit(X).transform(tiny.xq)
    Z2 = clone(red).fit(X).transform(tiny.xq)
    np.testing.assert_array_equal(Z1, Z2)
    c = clone(red)
    assert c.get_params() == red.get_params() and not hasattr(c, "module_")
    Z3 = make_reducer(name, n_components=4, random_state=8, **FAST).fit(X).transform(tiny.xq)
    assert not np.array_equal(Z1, Z3)
    assert red.inverse_transform(Z1).shape == tiny.xq.shape


@pytest.mark.parametrize("name", NAMES)
def test_code_size_not_below_the_input_is_an_error(name, X):
    with pytest.raises(ValueError, match=r"n_components=32 must be smaller than the input dimension n_features=32"):
        make_reducer(name, n_components=32, **FAST).fit(X)


@pytest.mark.parametrize("bad, match", [
    ({"hidden": 0}, "hidden must be a positive integer or 'input'"),
    ({"activation": "sigmoid"}, "activation must be one of"),
    ({"preset": "fast"}, "preset must be None or one of"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"validation_fraction": 1.0}, "validation_fraction must be < 1"),
    ({"patience": 0}, "patience must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"normalize_codes": "yes"}, "normalize_codes must be True or False"),
    ({"device": "cuda:7"} if not __import__("torch").cuda.is_available() else {"lr": -1.0}, "CUDA is not available|lr"),
])
def test_bad_common_parameters_name_themselves(bad, match, X):
    with pytest.raises(ValueError, match=match):
        make_reducer("vanilla_ae", n_components=4, **{**FAST, **bad}).fit(X)


def test_the_paper_switches(X, tiny):
    ae = make_reducer("vanilla_ae", n_components=4, hidden="input", normalize_codes=True, random_state=0,
                      max_epochs=2, device="cpu").fit(X)
    assert ae.module_.encoder[0].out_features == X.shape[1]  # "set l hidden": l = d
    np.testing.assert_allclose(np.linalg.norm(ae.transform(tiny.xq), axis=1), 1.0, rtol=1e-5)
    # normalize_input: a row and its multiple have the same code
    ae = make_reducer("vanilla_ae", n_components=4, normalize_input=True, random_state=0, **FAST).fit(X)
    np.testing.assert_allclose(ae.transform(tiny.xq * 7.5), ae.transform(tiny.xq), rtol=1e-4, atol=1e-5)


def test_paper_preset_uses_the_papers_constants(X):
    ae = make_reducer("vanilla_ae", n_components=4, preset="paper", hidden=16, random_state=0, device="cpu").fit(X)
    assert ae.training_params_ == {**ae.training_params_, **PRESETS["paper"]}
    assert ae.training_params_["batch_size"] == 8 and ae.training_params_["max_epochs"] == 5
    assert len(ae.history_) == 5 and ae.n_iter_ == 5 * int(np.ceil(len(X) / 8))  # every row, batches of 8
    assert "val_loss" not in ae.history_[0]


def test_held_out_slice_and_early_stopping(X):
    ae = make_reducer("vanilla_ae", n_components=4, random_state=0, max_epochs=400, patience=2, lr=3e-2,
                      hidden=16, device="cpu").fit(X)
    assert all("val_loss" in r for r in ae.history_)
    assert len(ae.history_) < 400  # stopped early on the held-out loss
    assert ae.n_iter_ == ae.history_[-1]["step"]
    assert all(r["epoch_seconds"] >= 0 for r in ae.history_)
    # 10 % of the 150 rows held out: 135 training rows in batches of 256 -> one step per epoch
    assert ae.history_[0]["step"] == 1


def test_memory_map_trains_like_the_array(X, tiny, tmp_path):
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    a = make_reducer("nrae", n_components=4, random_state=0, **FAST).fit(X)
    b = make_reducer("nrae", n_components=4, random_state=0, **FAST).fit(mm)
    np.testing.assert_array_equal(a.transform(tiny.xq), b.transform(tiny.xq))
    np.testing.assert_array_equal(b.transform(mm), a.transform(X))


def test_transform_in_blocks_includes_the_last_partial_one(X, monkeypatch):
    from rae_explore.reducers.neural import base

    ae = make_reducer("vanilla_ae", n_components=4, random_state=0, **FAST).fit(X)
    full = ae.transform(X)
    monkeypatch.setattr(base, "TRANSFORM_BLOCK", 64)  # 150 rows: 64 + 64 + 22
    np.testing.assert_allclose(ae.transform(X), full, rtol=1e-6, atol=1e-6)


def test_standardisation_matches_numpy(X):
    mean, scale = standardisation(X, np.arange(len(X)), False, block=40)
    np.testing.assert_allclose(mean, X.mean(0), rtol=1e-5, atol=1e-6)
    assert scale == pytest.approx(float(np.sqrt(X.astype(np.float64).var(0).mean())), rel=1e-6)
    bad = X.copy()
    bad[5] = 0
    with pytest.raises(ValueError, match="row 5 is the zero vector"):
        standardisation(bad, np.arange(len(X)), True)

