"""run_tasks(): results saved atomically after each config, resumed, failures recorded; ids stable."""

import concurrent.futures
import json

import numpy as np
import pytest

from rae_explore.experiments.tasks import config_id, read_rows, run_tasks, task_id, write_rows


def _square(config):
    if config["x"] < 0:
        raise ValueError(f"x must be >= 0, got {config['x']}")
    return {"x": config["x"], "y": config["x"] ** 2}


def _two_rows(config):
    return [{"x": config["x"], "j": j} for j in range(2)]


def test_config_id_is_stable_and_ignores_key_order():
    a = {"method": "pca", "n_components": np.int64(8), "params": {"b": 1, "a": 2.0}}
    b = {"params": {"a": 2.0, "b": 1}, "n_components": 8, "method": "pca"}
    assert config_id(a) == config_id(b) and len(config_id(a)) == 16
    assert config_id(a) != config_id(dict(b, n_components=9))
    assert task_id(dict(a, config_id="mine")) == "mine" and task_id(a) == config_id(a)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_rows_round_trip_and_hex_ids_stay_strings(tmp_path, suffix):
    path = tmp_path / f"r{suffix}"
    rows = [{"config_id": "123e4567", "status": "ok", "v": 1.5}, {"config_id": "0012", "status": "ok", "v": 2.0}]
    write_rows(rows, path)
    back = read_rows(path)
    assert [r["config_id"] for r in back] == ["123e4567", "0012"]  # not 1.23e+4569 nor 12
    assert [r["v"] for r in back] == [1.5, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left
    assert read_rows(tmp_path / f"missing{suffix}") == []
    with pytest.raises(ValueError, match="must end in one of .jsonl, .csv, .parquet"):
        write_rows(rows, tmp_path / "r.txt")


def test_failures_are_recorded_then_only_they_are_retried(tmp_path):
    path = tmp_path / "r.jsonl"
    configs = [{"x": 1}, {"x": -2}, {"x": 3}]
    rows = run_tasks(_square, configs, path, errors="record")
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    err = rows[1]
    assert err["x"] == -2 and err["error"] == "ValueError: x must be >= 0, got -2"
    assert err["config_id"] == config_id({"x": -2})
    assert read_rows(path) == json.loads(json.dumps(rows))
    seen = []

    def fixed(config):
        seen.append(config)
        return _square(dict(config, x=abs(config["x"])))

    rows2 = run_tasks(fixed, configs, path, errors="record")
    assert seen == [{"x": -2}]  # the two finished configs are not run again
    assert len(rows2) == 3 and all(r["status"] == "ok" for r in rows2)
    assert sorted(r["y"] for r in rows2) == [1, 4, 9]
    with pytest.raises(ValueError, match="x must be >= 0"):
        run_tasks(_square, configs, tmp_path / "b.jsonl")  # errors="raise" is the default
    with pytest.raises(ValueError, match="errors must be 'record' or 'raise'"):
        run_tasks(_square, configs, errors="ignore")


def test_an_interrupted_run_keeps_what_finished_and_resumes(tmp_path):
    path = tmp_path / "r.csv"
    configs = [{"x": i} for i in range(5)]
    calls = []

    def interrupted(config):
        if config["x"] == 3:
            raise KeyboardInterrupt  # not a task error: it stops the run
        calls.append(config["x"])
        return _square(config)

    with pytest.raises(KeyboardInterrupt):
        run_tasks(interrupted, configs, path, errors="record")
    assert [r["x"] for r in read_rows(path)] == [0, 1, 2]
    calls.clear()
    rows = run_tasks(lambda c: calls.append(c["x"]) or _square(c), configs, path)
    assert calls == [3, 4] and [r["x"] for r in rows] == [0, 1, 2, 3, 4]
    fresh = run_tasks(lambda c: calls.append(c["x"]) or _square(c), configs, path, resume=False)
    assert len(fresh) == 5 and calls[-5:] == [0, 1, 2, 3, 4]


def test_list_rows_executors_and_futures(tmp_path):
    configs = [{"x": i} for i in range(3)]

    class Futures:  # dask.distributed.Client.map style: yields futures
        def map(self, fn, items):
            out = []
            for c in items:
                f = concurrent.futures.Future()
                f.set_result(fn(c))
                out.append(f)
            return out

    rows = run_tasks(_two_rows, configs, executor=Futures())
    assert [(r["x"], r["j"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert all(r["status"] == "ok" and r["config_id"] == config_id({"x": r["x"]}) for r in rows)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        rows = run_tasks(_square, configs + [{"x": -1}], tmp_path / "r.jsonl", executor=ex, errors="record")
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "error"]


def test_parquet_results_run_resume_and_keep_dtypes(tmp_path):
    """A .parquet results file (through pandas + pyarrow): written per config, resumed, types kept."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    # explicit hex-like ids: "0012" and "1e5" must come back as the same strings, not 12 / 100000.0
    configs = [{"config_id": "0012", "x": 1}, {"config_id": "1e5", "x": -2}, {"x": 3}]
    rows = run_tasks(_square, configs, path, errors="record")
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]

    df = pd.read_parquet(path)
    assert len(df) == 3 and set(df.columns) >= {"config_id", "status", "x", "y", "error"}
    assert df["config_id"].map(type).eq(str).all()
    assert list(df["config_id"]) == ["0012", "1e5", config_id({"x": 3})]
    assert pd.api.types.is_integer_dtype(df["x"])
    assert pd.api.types.is_float_dtype(df["y"])  # NaN in the error row
    back = read_rows(path)
    assert [r["config_id"] for r in back] == ["0012", "1e5", config_id({"x": 3})]
    assert [r["x"] for r in back] == [1, -2, 3] and back[1]["error"] == "ValueError: x must be >= 0, got -2"
    assert back[0]["y"] == 1.0 and np.isnan(back[1]["y"])

    seen = []

    def fixed(config):
        seen.append(config["x"])
        return _square(dict(config, x=abs(config["x"])))

    rows2 = run_tasks(fixed, configs, path, errors="record")
    assert seen == [-2]  # only the failed config runs again
    back = read_rows(path)
    assert len(back) == len(rows2) == 3 and all(r["status"] == "ok" for r in back)
    assert sorted(r["config_id"] for r in back) == sorted(["0012", "1e5", config_id({"x": 3})])
    assert sorted(r["y"] for r in back) == [1, 4, 9]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet"]  # no temporary file left
    assert run_tasks(fixed, configs, path) and seen == [-2]  # everything done: nothing runs
