"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""


import pytest

from rae_explore.index import (best_settings, build_speedups, pareto_frontier)


def test_pareto_frontier_against_hand_table():
    rows = [
        {"pipeline": "a", "r": 0.5, "qps": 100.0},
        {"pipeline": "a", "r": 0.7, "qps": 80.0},
        {"pipeline": "a", "r": 0.6, "qps": 50.0},  # dominated by (0.7, 80)
        {"pipeline": "a", "r": 0.9, "qps": 10.0},
        {"pipeline": "b", "r": 0.4, "qps": 10.0},  # alone in its group: on its frontier
    ]
    df = pareto_frontier(rows, x="r", y="qps")
    assert df["pareto"].tolist() == [True, True, False, True, True]
    assert pareto_frontier(rows, x="r", y="qps", by=None)["pareto"].tolist() == [True, True, False, True, False]
    with pytest.raises(ValueError, match="column 'nope'"):
        pareto_frontier(rows, x="nope")


# ---------------------------------------------------------------- summaries and figures
def test_best_settings_and_build_speedups_against_hand_table():
    rows = [
        {"pipeline": "a", "index": "H", "reducer": "none", "n_components": 8, "10-R@10": 0.8, "qps": 900.0,
         "build_time_s": 4.0, "reducer_fit_time_s": 0.0, "base_reduce_time_s": 0.0},
        {"pipeline": "a", "index": "H", "reducer": "none", "n_components": 8, "10-R@10": 0.95, "qps": 500.0,
         "build_time_s": 4.0, "reducer_fit_time_s": 0.0, "base_reduce_time_s": 0.0},
        {"pipeline": "a", "index": "H", "reducer": "none", "n_components": 8, "10-R@10": 0.99, "qps": 100.0,
         "build_time_s": 4.0, "reducer_fit_time_s": 0.0, "base_reduce_time_s": 0.0},
        {"pipeline": "b", "index": "H", "reducer": "pca", "n_components": 4, "10-R@10": 0.7, "qps": 2000.0,
         "build_time_s": 1.0, "reducer_fit_time_s": 0.5, "base_reduce_time_s": 0.5},
    ]
    best = best_settings(rows, target=0.9)
    assert best["pipeline"].tolist() == ["a", "b"]  # those reaching the target first
    a = best[best["pipeline"] == "a"].iloc[0]
    assert a["qps"] == 500.0 and a["reached"]
    assert not best[best["pipeline"] == "b"].iloc[0]["reached"]
    sp = build_speedups(rows)
    assert sp["pipeline"].tolist() == ["b"]
    assert sp["speedup"].iloc[0] == 4.0 and sp["speedup_with_reducer"].iloc[0] == 2.0
    assert build_speedups(rows, min_build_s=5.0).empty  # baseline too quick to time
