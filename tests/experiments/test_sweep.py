"""evaluate(): the row format and its numbers; sweep(): grid, resume, atomic results, executors."""

import concurrent.futures
import json
import multiprocessing
import pickle

import pandas as pd
import pytest

from rae_explore.experiments.sweep import run_config, sweep, sweep_configs


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
