"""evaluate(): the row format and its numbers; sweep(): grid, resume, atomic results, executors."""

import concurrent.futures
import json
import multiprocessing
import pickle

import numpy as np
import pandas as pd
import pytest

from rae_explore.experiments.evaluate import evaluate
from rae_explore.experiments.sweep import run_config, sweep, sweep_configs
from rae_explore.neighbors.knn import knn_search
from rae_explore.neighbors.metrics import recall_n_at_m, top_k_accuracy
from rae_explore.reducers import DimensionWarning, Reducer, make_reducer


class _Spy(Reducer):
    """Records the row norms it is fitted on; keeps the first n_components coordinates."""

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        X = self._check_fit_X(X)
        self.fit_norms_ = np.linalg.norm(X, axis=1)
        return self

    def transform(self, X):
        return self._check_transform_X(X)[:, : self.n_components].copy()


def test_row_format_and_values(tiny):
    row = evaluate(make_reducer("pca", n_components=6, random_state=0), tiny, ks=(1, 5, 10), self_eval=True)
    expected = {"method", "params", "n_components", "metric", "dataset", "nb", "nq", "d", "top_k@1", "top_k@5",
                "top_k@10", "1-R@1", "1-R@10", "1-R@100", "train_top_k@1", "train_top_k@5", "train_top_k@10",
                "fit_s", "transform_s", "condition_number", "reconstruction_mse"}
    assert set(row) == expected
    assert row["method"] == "pca" and row["n_components"] == 6 and row["metric"] == "l2"
    assert json.loads(row["params"])["n_components"] == 6
    assert row["condition_number"] == pytest.approx(1.0, abs=1e-5) and np.isnan(row["reconstruction_mse"])
    assert row["fit_s"] > 0 and row["transform_s"] > 0
    # the numbers are those of the metrics on an independent k-NN
    pca = make_reducer("pca", n_components=6, random_state=0).fit(tiny.xb)
    gt = knn_search(tiny.xq, tiny.xb, 100)[1]
    I = knn_search(pca.transform(tiny.xq), pca.transform(tiny.xb), 100)[1]
    assert row["top_k@5"] == top_k_accuracy(gt, I, 5)
    assert row["1-R@10"] == recall_n_at_m(gt, I, 1, 10)
    assert 0 < row["top_k@10"] < 1


def test_distance_preserving_map_is_perfect(tiny):
    with pytest.warns(DimensionWarning):
        row = evaluate(make_reducer("pca", n_components=tiny.d), tiny, ks=(1, 10))
    assert row["top_k@1"] == row["top_k@10"] == row["1-R@1"] == 1.0


def test_cosine_fits_on_unit_vectors_and_rae_reports_reconstruction(tiny):
    spy = _Spy(4)
    row = evaluate(spy, tiny, ks=(1,), metric="cosine")
    np.testing.assert_allclose(spy.fit_norms_, 1.0, rtol=1e-5)
    assert row["metric"] == "cosine"
    r = evaluate("rae", tiny, ks=(1,), params={"n_components": 8, "solver": "closed_form"})
    assert r["method"] == "rae" and 0 < r["reconstruction_mse"] < np.mean(tiny.xb ** 2)
    assert np.isfinite(r["condition_number"])


def test_uses_the_datasets_ground_truth_when_wide_enough(tiny):
    fake = tiny.with_ground_truth(100)
    fake = type(fake)(**{**fake.__dict__, "gt": fake.gt[::-1].copy()})  # wrong on purpose
    with pytest.warns(DimensionWarning):
        assert evaluate(_Spy(32), fake, ks=(1,))["top_k@1"] < 0.5  # the stored gt was used
        assert evaluate(_Spy(32), tiny, ks=(1,))["top_k@1"] == 1.0


def test_errors(tiny):
    with pytest.raises(ValueError, match="k=601 is larger than the number of base vectors"):
        evaluate(_Spy(4), tiny, ks=(601,))
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluate(_Spy(4), tiny, metric="manhattan")
    with pytest.raises(ValueError, match="unknown reducer"):
        evaluate("pcaa", tiny)
    with pytest.raises(TypeError, match="dataset must be"):
        evaluate(_Spy(4), tiny.xb)


def test_sweep_grid_resume_and_atomic_file(tmp_path):
    path = tmp_path / "res.csv"
    methods = {"pca": {}, "rp": [{"kind": "gaussian"}, {"kind": "sparse"}]}
    df = sweep(methods, [4, 8], "digits", ks=(1, 10), recalls=((1, 10),), results_path=path)
    assert len(df) == 6 and set(df["method"]) == {"pca", "rp"}
    assert {"top_k@1", "top_k@10", "1-R@10", "config_id", "seed"} <= set(df.columns)
    on_disk = pd.read_csv(path)
    assert len(on_disk) == 6 and list(tmp_path.iterdir()) == [path]  # no temporary files left
    # resume: only the new dimension runs
    seen = []

    class Counting:
        def map(self, fn, items):
            items = list(items)
            seen.extend(items)
            return map(fn, items)

    df2 = sweep(methods, [4, 8, 16], "digits", ks=(1, 10), recalls=((1, 10),), results_path=path, executor=Counting())
    assert len(df2) == 9 and len(seen) == 3 and {c["n_components"] for c in seen} == {16}
    assert len(pd.read_csv(path)) == 9

    class Futures:  # dask.distributed.Client.map style: yields futures
        def map(self, fn, items):
            return [_done(fn(c)) for c in items]

    df3 = sweep(methods, [2], "digits", ks=(1,), recalls=(), executor=Futures())
    assert len(df3) == 3 and set(df3["n_components"]) == {2}


def test_configs_are_small_picklable_tasks():
    cfgs = sweep_configs(["pca", ("rae", {"solver": "closed_form"})], [4], "digits", ks=(1,), recalls=(), seeds=(0, 1))
    assert len(cfgs) == 4 and len({c["config_id"] for c in cfgs}) == 4
    assert all(len(pickle.dumps(c)) < 1000 for c in cfgs)
    row = pickle.loads(pickle.dumps(run_config))(pickle.loads(pickle.dumps(cfgs[1])))
    assert row["method"] == "rae" and row["config_id"] == cfgs[1]["config_id"]
    assert json.loads(row["params"])["random_state"] == 0
    with pytest.raises(ValueError, match="unknown reducer 'pcx'"):
        sweep_configs(["pcx"], [4], "digits")
    with pytest.raises(TypeError, match="dataset \\*name\\*"):
        sweep_configs(["pca"], [4], object())


@pytest.mark.slow
def test_sweep_over_a_process_pool_and_progress_bar(tmp_path, capsys):
    # spawn, not fork: forking a process whose OpenMP/BLAS thread pools are running can deadlock
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        df = sweep(["pca", "lpp"], [8], "digits", ks=(1, 5), recalls=(), executor=ex, verbose=True,
                   results_path=tmp_path / "r.parquet" if _has_parquet() else tmp_path / "r.csv")
    assert len(df) == 2 and df["top_k@5"].between(0, 1).all()
    assert "sweep" in capsys.readouterr().err


def _done(value):
    f = concurrent.futures.Future()
    f.set_result(value)
    return f


def _has_parquet():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_blocked_transform_gives_the_same_row(tiny):
    a = evaluate(make_reducer("rp", n_components=8, random_state=0), tiny, ks=(1, 10))
    b = evaluate(make_reducer("rp", n_components=8, random_state=0), tiny, ks=(1, 10), block_rows=64)
    assert a["top_k@10"] == b["top_k@10"] and a["1-R@10"] == b["1-R@10"]
