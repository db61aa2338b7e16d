"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""

import dataclasses
import json
import pickle

import faiss
import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.preprocessing import FunctionTransformer

from rae_explore.experiments import pipeline_grid as pl
from rae_explore.cli import main
from rae_explore.data.synthetic import synthetic
from rae_explore.experiments.pipeline_grid import pipeline_configs, run_grid, run_pipeline_config
from rae_explore.index import (PAPER_RECALLS, IndexPipeline, TrainingSizeWarning, best_settings, build_pipeline,
                               build_speedups, evaluate_pipeline, load_results, make_index, paper_table,
                               pareto_frontier, sweep_pipeline)

RECALL_COLS = [f"{n}-R@{m}" for n, m in PAPER_RECALLS]


class _NeverFit(TransformerMixin, BaseEstimator):
    """A reducer whose fit fails the test: checks that cheap errors come before the reducer fit."""

    def __init__(self, n_components=None):
        self.n_components = n_components

    def fit(self, X, y=None):
        pytest.fail("the reducer was fitted before the index_factory string was checked")

    def transform(self, X):
        return X


@pytest.fixture(scope="module")
def small():
    """600 x 32 l2 data near an 8-d subspace, 50 queries, ground truth k=100."""
    return synthetic(d=32, nb=600, nq=50, intrinsic_dim=8, seed=0).with_ground_truth(100)


@pytest.fixture(scope="module")
def small_cos(small):
    return dataclasses.replace(small, metric="cosine", gt=None).with_ground_truth(100)


# ---------------------------------------------------------------- exact baselines, sizes
@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_flat_on_original_vectors_has_recall_exactly_one(small, metric):
    ds = small if metric == "l2" else dataclasses.replace(small, metric=metric, gt=None)
    row = evaluate_pipeline(ds, "Flat", n_single=5)
    for c in RECALL_COLS:
        assert row[c] == 1.0, (metric, c, row[c])
    assert row["reducer"] == "none" and row["n_components"] == 32 and row["search_params"] == "none"


def test_size_cr_ss_are_measured_by_serialising(small):
    pipe = build_pipeline(small, "Flat")
    assert pipe.index_bytes_ == faiss.serialize_index(pipe.index_).size
    # a flat index stores nb * d float32 plus a small header
    raw = small.nb * small.d * 4
    assert raw <= pipe.index_bytes_ < raw + 200
    row = evaluate_pipeline(small, "Flat", n_single=1)
    assert row["original_bytes"] == raw
    assert row["cr"] == pytest.approx(raw / row["index_bytes"])
    assert row["ss"] == pytest.approx(1 - 1 / row["cr"])
    # PCA to d/4 then Flat: a quarter of the bytes
    row4 = evaluate_pipeline(small, "Flat", PCA(), n_components=8, n_single=1)
    assert row4["cr"] == pytest.approx(4.0, rel=0.01) and row4["ss"] == pytest.approx(0.75, rel=0.01)
    # SQ8: one byte per value (+ 2 d floats of trained ranges)
    row_sq = evaluate_pipeline(small, "SQ8", n_single=1)
    assert row_sq["cr"] == pytest.approx(4.0, rel=0.03)


def test_identity_reducer_changes_nothing(small):
    ident = FunctionTransformer(lambda X: X)
    a = build_pipeline(small, "HNSW16")
    b = build_pipeline(small, "HNSW16", ident)
    Da, Ia = a.search(small.xq, 10)
    Db, Ib = b.search(small.xq, 10)
    np.testing.assert_array_equal(Ia, Ib)
    np.testing.assert_array_equal(Da, Db)
    ra = evaluate_pipeline(small, "HNSW16", n_single=1)
    rb = evaluate_pipeline(small, "HNSW16", ident, n_single=1)
    assert [ra[c] for c in RECALL_COLS] == [rb[c] for c in RECALL_COLS]
    assert ra["index_bytes"] == rb["index_bytes"] and rb["reducer"] == "functiontransformer"


def test_reducer_by_name_and_by_object_agree(small):
    by_name = evaluate_pipeline(small, "Flat", "pca", n_components=4, n_single=1)
    by_obj = evaluate_pipeline(small, "Flat", PCA(), n_components=4, n_single=1)
    assert by_name["n_components"] == by_obj["n_components"] == 4
    assert by_name["10-R@10"] == pytest.approx(by_obj["10-R@10"], abs=0.02)
    assert 0.2 < by_name["10-R@10"] < 0.95  # the data is 8-d: 4 dims are lossy, yet far from random (0.017)
    assert by_name["reducer_fit_time_s"] > 0 and by_name["reducer"] == "pca"


def test_cosine_pipeline_uses_inner_product_and_unit_vectors(small_cos):
    pipe = build_pipeline(small_cos, "Flat", PCA(), n_components=8)
    assert pipe.index_.metric_type == faiss.METRIC_INNER_PRODUCT
    stored = faiss.rev_swig_ptr(pipe.index_.get_xb(), pipe.index_.ntotal * 8).reshape(-1, 8)
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1, atol=1e-5)
    D, _ = pipe.search(small_cos.xq, 5)
    assert (D <= 1 + 1e-5).all()  # cosine similarities


# ---------------------------------------------------------------- search parameters, sweeps, re-rank
def test_pipeline_is_an_estimator_get_params_and_clone_round_trip(small):
    from sklearn.base import clone

    pipe = IndexPipeline("HNSW16", "pca", n_components=8, search_params={"efSearch": 40}, random_state=3)
    assert pipe.get_params()["n_components"] == 8 and pipe.get_params()["search_params"] == {"efSearch": 40}
    fitted = pipe.fit(small.xb)
    twin = clone(fitted)
    assert not hasattr(twin, "index__") and not hasattr(twin, "index_")
    assert twin.get_params() == pipe.get_params()
    _, a = fitted.search(small.xq, 10)
    _, b = twin.fit(small.xb).search(small.xq, 10)
    np.testing.assert_array_equal(a, b)  # same parameters and seed: the same index


def test_a_fitted_reduction_is_shared_without_refitting(small):
    from rae_explore.index.pipeline import FittedReduction, fit_reduction

    red = fit_reduction(small.xb, None, "pca", 8)
    assert isinstance(red, FittedReduction) and red.n_components == 8 and red.name == "pca"
    rows = [evaluate_pipeline(small, ix, red, recalls=[(1, 10)], n_single=2) for ix in ("Flat", "HNSW16")]
    assert all(r["reducer"] == "pca" and r["n_components"] == 8 for r in rows)
    assert rows[0]["reducer_fit_time_s"] == rows[1]["reducer_fit_time_s"] == red.fit_time_s  # fitted once
    direct = evaluate_pipeline(small, "Flat", "pca", n_components=8, recalls=[(1, 10)], n_single=2)
    assert rows[0]["1-R@10"] == direct["1-R@10"]
    with pytest.raises(ValueError, match="reduced 600 base vectors but xb has 100"):
        IndexPipeline("Flat", red).fit(small.xb[:100])


def test_ivf_default_nprobe_is_visible_in_the_row(small):
    row = evaluate_pipeline(small, "IVF8,Flat", n_single=1)
    assert row["nprobe"] == 1 and row["search_params"] == "nprobe=1" and row["search_params_source"] == "default"
    given = evaluate_pipeline(small, "IVF8,Flat", search_params={"nprobe": 8}, n_single=1)
    assert given["nprobe"] == 8 and given["search_params_source"] == "given"
    assert given["1-R@1"] == 1.0 and given["1-R@1"] >= row["1-R@1"]  # all lists probed: exact


def test_hnsw_efsearch_and_nsg_search_l_are_read_back(small):
    h = build_pipeline(small, "HNSW16", search_params={"efSearch": 77})
    assert h.search_params_ == {"efSearch": 77}
    n = build_pipeline(small, "NSG16")
    n.set_search_params(search_L=40)
    assert n.search_params_ == {"search_L": 40}


def test_ivf_sweep_is_monotone_and_reaches_exact(small):
    rows = sweep_pipeline(small, "IVF8,Flat", n_single=1)
    assert [r["nprobe"] for r in rows] == [1, 2, 4, 8]
    rec = [r["10-R@10"] for r in rows]
    assert all(b >= a for a, b in zip(rec, rec[1:])) and rec[-1] == 1.0
    assert len({r["build_time_s"] for r in rows}) == 1  # built once
    assert all(r["search_params_source"] == "sweep" and r["qps"] > 0 for r in rows)


def test_rerank_with_whole_base_is_exact_and_never_worse(small):
    # a crude reduction (d=4): the shortlist of the whole base re-ranked in the original space is exact
    row = evaluate_pipeline(small, "Flat", PCA(), n_components=4, rerank_k=small.nb, n_single=1)
    assert row["1-R@1"] < 1.0
    for c in RECALL_COLS:
        assert row["rerank_" + c] == 1.0
    row2 = evaluate_pipeline(small, "Flat", PCA(), n_components=4, rerank_k=200, n_single=1)
    assert row2["rerank_10-R@10"] >= row2["10-R@10"] and row2["rerank_k"] == 200


def test_rerank_matches_numpy_brute_force(small):
    pipe = build_pipeline(small, "Flat", PCA(), n_components=4)
    _, Ishort = pipe.index_.search(pipe.reduce(small.xq), 50)
    D, I = pipe.search(small.xq, 10, rerank_k=50)
    xb = np.asarray(small.xb, dtype=np.float64)
    ref = ((small.xq[:, None, :] - xb[Ishort]) ** 2).sum(-1)
    order = np.argsort(ref, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(I, np.take_along_axis(Ishort, order, 1))
    np.testing.assert_allclose(D, np.take_along_axis(ref, order, 1), rtol=1e-4)


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


def test_faiss_threads_recorded_and_restored(small):
    before = faiss.omp_get_max_threads()
    row = evaluate_pipeline(small, "Flat", n_threads=1, n_single=1)
    assert row["n_threads"] == 1 and faiss.omp_get_max_threads() == before
    with pytest.raises(ValueError, match="n_threads"):
        evaluate_pipeline(small, "Flat", n_threads=0)


# ---------------------------------------------------------------- errors
def test_bad_factory_string_names_examples():
    with pytest.raises(ValueError, match="cannot parse.*'IVF,Flatt'.*Examples"):
        make_index(32, "IVF,Flatt")
    with pytest.raises(TypeError, match="index_factory"):
        make_index(32, "")


def test_pq_m_not_dividing_d_lists_valid_m(small):
    with pytest.raises(ValueError, match=r"multiple of M.*\[1, 2, 4, 8, 16, 32\]"):
        make_index(32, "IVF16,PQ7")
    # on reduced vectors the message points at n_components, and fails before fitting the reducer
    with pytest.raises(ValueError, match=r"30-d vectors.*n_components"):
        IndexPipeline("PQ8", _NeverFit(), n_components=30).fit(small.xb)
    with pytest.raises(ValueError, match="multiple of M"):
        IndexPipeline("PQ7", None).fit(small.xb)


def test_training_set_too_small_raises_and_warns():
    ds = synthetic(d=8, nb=5000, nq=10, intrinsic_dim=4, seed=1)
    with pytest.raises(ValueError, match=r"training set too small.*IVF4096.*at most 128 lists \(e.g. IVF128\)"):
        build_pipeline(ds, "IVF4096,Flat")
    with pytest.warns(TrainingSizeWarning, match="faiss recommends >= 39"):
        build_pipeline(ds, "IVF256,Flat")  # 19.5 points per list: usable, but below faiss's advice


def test_pq_training_size_and_metric_errors(small):
    with pytest.raises(ValueError, match=r"PQ4x8 \(256 codewords.*PQ<M>x4"):
        build_pipeline(small, "PQ4")  # 600 vectors for 256 codewords: 2.3 per centroid
    with pytest.raises(ValueError, match="only the l2 metric"):
        make_index(32, "LSH", "cosine")


def test_search_errors(small):
    with pytest.raises(ValueError, match="'efSearch' does not apply.*nprobe"):
        build_pipeline(small, "IVF8,Flat", search_params={"efSearch": 10})
    pipe = build_pipeline(small, "Flat")
    with pytest.raises(ValueError, match="rerank_k=5 must be >= k=10"):
        pipe.search(small.xq, 10, rerank_k=5)
    with pytest.raises(ValueError, match="dimension mismatch"):
        pipe.search(small.xq[:, :16], 10)
    with pytest.raises(ValueError, match="larger than"):
        pipe.search(small.xq, 601)
    with pytest.raises(ValueError, match="takes no n_components"):
        evaluate_pipeline(small, "Flat", None, n_components=8)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        IndexPipeline("Flat").search(small.xq, 1)


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
    df2 = run_grid(configs, out)
    assert len(calls) == 1 and calls[0]["index"] == "IVF16,PQ7"  # only the failed config is retried
    assert len(df2) == 5 and set(load_results(out)["config_id"]) == set(df["config_id"])
    with pytest.raises(ValueError, match="multiple of M"):
        run_grid(configs, tmp_path / "b.jsonl", errors="raise")


def test_cli_pipeline_run_and_table(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    argv = ["pipeline", "run", "digits", "--reducers", "none", "pca", "--dims", "16", "--index", "Flat",
            "IVF16,Flat", "--sweep", "--n-single", "2", "--out", str(out)]
    assert main(argv) == 0
    df = load_results(out)
    assert set(df["pipeline"]) == {"none-64 Flat", "none-64 IVF16,Flat", "pca-16 Flat", "pca-16 IVF16,Flat"}
    assert sorted(df[df["pipeline"] == "pca-16 IVF16,Flat"]["nprobe"]) == [1, 2, 4, 8, 16]
    capsys.readouterr()
    assert main(["pipeline", "table", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pca-16 IVF16,Flat" in printed and "nprobe=16" in printed and "1-R@1" in printed
    assert main(["pipeline", "run", "digits", "--index", "IVF,Flatt", "--out", str(tmp_path / "x.jsonl"),
                 "--errors", "raise"]) == 2
    assert "cannot parse" in capsys.readouterr().err


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


def test_pipeline_figures_carry_the_grid_in_plotly_controls(small):
    from rae_explore.report import plots

    rows = (sweep_pipeline(small, "IVF8,Flat", n_single=1, recalls=[(1, 1), (10, 10)], rerank_k=50)
            + sweep_pipeline(small, "IVF8,Flat", PCA(), n_components=8, n_single=1, recalls=[(1, 1), (10, 10)],
                             rerank_k=50)
            + sweep_pipeline(small, "Flat", PCA(), n_components=8, n_single=1, recalls=[(1, 1), (10, 10)]))
    fig = plots.pipeline_recall_qps(rows)
    menu = fig.layout.updatemenus[0]
    labels = [b.label for b in menu.buttons]
    assert len(labels) == 4 and any("re-ranked" in lab for lab in labels)
    # 3 pipelines x (frontier + dominated) per plain metric, 2 pipelines with re-ranking per rerank metric
    assert len(fig.data) == 2 * (3 + 3 + 2 + 2)
    for b in menu.buttons:  # each button shows one metric's traces, nothing else
        vis = b.args[0]["visible"]
        assert 4 <= sum(vis) <= 6
    frontier = [t for t in fig.data if t.showlegend is not False and t.visible]
    assert {t.name for t in frontier} == {"none-32 IVF8,Flat", "pca-8 IVF8,Flat", "pca-8 Flat"}
    size = plots.pipeline_size_recall(rows)
    assert len(size.layout.updatemenus[0].buttons) == 4
    build = plots.pipeline_build_time(rows)
    ivf_pca = [t for t in build.data if t.name == "pca-8" and t.visible][0]
    sp = build_speedups(rows)
    expect = sp[sp["pipeline"] == "pca-8 IVF8,Flat"]["speedup"].iloc[0]
    assert ivf_pca.customdata[list(ivf_pca.x).index("IVF8,Flat")] == pytest.approx(expect)
    tab = plots.pipeline_table(paper_table(rows))
    assert [b.label for b in tab.layout.updatemenus[0].buttons] == ["index: all", "index: IVF8,Flat", "index: Flat"]
    assert "1-R@1" in " ".join(tab.data[0].header.values)


def test_small_training_set_warns_once_in_python_not_per_subquantizer_on_stderr(capfd):
    """faiss's k-means prints one C-level line per PQ sub-quantizer; we report it once, as a warning."""
    from rae_explore.data.synthetic import synthetic
    from rae_explore.index.pipeline import IndexPipeline
    from rae_explore.index.factory import TrainingSizeWarning

    ds = synthetic(d=32, nb=4000, nq=5, intrinsic_dim=8, seed=0)
    with pytest.warns(TrainingSizeWarning, match="PQ8x8"):
        IndexPipeline("PQ8np").fit(ds.xb)
    assert "WARNING clustering" not in capfd.readouterr().err
