"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""

import json
import pickle

import pytest

from rae_explore.experiments import pipeline_grid as pl
from rae_explore.experiments.pipeline_grid import pipeline_configs, run_grid, run_pipeline_config
from rae_explore.index import (load_results)


# ---------------------------------------------------------------- grids: tasks, resume, CLI
def _configs():
    return pipeline_configs("digits", reducers=[None, "pca"], dims=[0.5], indexes=["Flat", "HNSW16"],
                       dataset_params={"seed": 0}, recalls=[(1, 1), (10, 10)], n_single=2)


def test_pipeline_configs_and_run_pipeline_config_are_plain_and_picklable():
    configs = _configs()
    assert len(configs) == 4 and pickle.loads(pickle.dumps(configs)) == configs
    rows = run_pipeline_config(configs[2])  # pca, 0.5 of d=64, Flat
    assert len(rows) == 1
    row = rows[0]
    assert row["n_components"] == 32 and row["index"] == "Flat" and row["status"] == "ok"
    assert json.loads(json.dumps(row)) == row and pickle.loads(pickle.dumps(row)) == row
    assert set(row) >= {"1-R@1", "10-R@10", "cr", "ss", "one_query_ms", "search_time_s", "build_time_s",
                        "reducer_fit_time_s", "n_threads", "config_id"}


def test_run_grid_writes_atomically_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "res.jsonl"
    configs = _configs() + pipeline_configs("digits", reducers=[None], indexes=["IVF16,PQ7"], recalls=[(1, 1)])
    df = run_grid(configs, out)
    assert len(df) == 5 and (df["status"] == "ok").sum() == 4
    err = df[df["status"] == "error"].iloc[0]
    assert "multiple of M" in err["error"]
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind
    calls = []
    real = pl.run_pipeline_config
    monkeypatch.setattr(pl, "run_pipeline_config", lambda c: calls.append(c) or real(c))
    df2 = run_grid(configs, out, isolate=False)  # in this process, where the patch counts the calls
    assert len(calls) == 1 and calls[0]["index"] == "IVF16,PQ7"  # only the failed config is retried
    assert len(df2) == 5 and set(load_results(out)["config_id"]) == set(df["config_id"])
    monkeypatch.undo()
    with pytest.raises(ValueError, match="multiple of M"):  # raised in the child, re-raised here
        run_grid(configs, tmp_path / "b.jsonl", errors="raise")


def test_run_grid_isolates_configs_in_a_child_and_records_what_kills_it(tmp_path):
    from rae_explore.experiments.pipeline_grid import crash_rows

    configs = pipeline_configs("digits", reducers=[None], indexes=["Flat"], recalls=[(1, 1)], n_single=2,
                               dataset_params={"seed": 0, "n_samples": 300})
    df = run_grid(configs, tmp_path / "r.jsonl")  # isolate=True: one child process
    assert list(df["status"]) == ["ok"] and df["1-R@1"].iloc[0] == 1.0
    (row,) = crash_rows(configs[0], "the task's process died with signal SIGSEGV (11)")
    assert row["status"] == "error" and row["config_id"] == df["config_id"].iloc[0] and row["index"] == "Flat"
    assert row["error"] == "TaskCrashed: the task's process died with signal SIGSEGV (11)"
    with pytest.raises(ValueError, match="M \\(neighbours per node\\) = 1"):
        run_grid(pipeline_configs("digits", [None], [], ["HNSW1"]), tmp_path / "b.jsonl")
    assert not (tmp_path / "b.jsonl").exists()


def test_lattice_configs_run_next_to_pq_at_equal_bits():
    cfgs = pipeline_configs("digits", ["pca"], [16], ["Lattice32", "PQ4x8"], dataset_params={"n_samples": 600},
                            n_single=2)
    assert [c["index"] for c in cfgs] == ["Lattice32", "PQ4x8"]
    lat = run_pipeline_config(cfgs[0])[0]
    assert lat["status"] == "ok" and lat["index"] == "Lattice32" and lat["code_bits"] <= 32
    assert lat["index_bytes"] == lat["nb"] * 4 and 0 < lat["1-R@10"] <= 1
    with pytest.raises(ValueError, match="Lattice index must be"):
        pipeline_configs("digits", ["pca"], [16], ["Lattice0"])
