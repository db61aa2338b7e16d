"""Intrinsic dimension: every fast path against plain scikit-dimension on the same data.

Plain scikit-dimension is the reference (``estimate_id(..., fast=False)`` runs it unchanged).
On float64 data both sides compute in float64 and must agree to rounding; on float32 data
scikit-dimension itself works in float32 in places (ESS, FisherS, its neighbour distances), so
the agreement is to float32 rounding. Sizes are small: plain scikit-dimension is slow.
"""

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from rae_explore._imports import import_skdim
from rae_explore.data.datasets import load_dataset
from rae_explore.intrinsic import (
    ESTIMATORS,
    estimate_id,
    first_occurrence,
    local_id,
    nearest_neighbours,
)
from rae_explore.intrinsic.budget import predict_seconds

skdim = import_skdim()

# DANCo's calibration goes to a fresh temporary cache, never the repository's data/cache
pytestmark = pytest.mark.usefixtures("danco_cache")

# small parameters where plain scikit-dimension would take minutes at its defaults
SMALL = {"DANCo": {"D": 12}, "PH": {"nsteps": 8, "subsamples": 2}, "ESS": {}}
# relative tolerance on float64 data: rounding only, except where a float32 piece remains
RTOL64 = {"MOM": 1e-6,      # its 100th-neighbour distances beyond the exact columns are faiss float32
          # L-BFGS-B and a spline minimisation amplify last-digit differences
          "DANCo": 1e-6, "DANCoFit": 1e-6, "MiND_ML": 1e-6}


def _data(name, n, dtype=np.float64, seed=0):
    ds = load_dataset(name, n_samples=n, seed=seed)
    return np.concatenate([ds.xb, ds.xq]).astype(dtype)


@pytest.fixture(scope="module")
def ball64():
    """300 points of a 10-d ball rotated into 64-d, float64."""
    return _data("ball-id10-in64", 300)


@pytest.fixture(scope="module")
def plain_ball64(ball64):
    names = [e for e in ESTIMATORS if e != "ESS"]
    return estimate_id(ball64, names, params=SMALL, fast=False).set_index("estimator")


@pytest.mark.parametrize("name", [e for e in ESTIMATORS if e != "ESS"])
def test_fast_path_matches_plain_scikit_dimension(ball64, plain_ball64, name):
    fast = estimate_id(ball64, [name], params=SMALL, budget_s=None).set_index("estimator").loc[name]
    ref = plain_ball64.loc[name]
    assert fast["status"] == "ok" and ref["status"] == "ok", (fast["status"], ref["status"])
    assert "read from the cache" not in str(fast["note"])  # DANCo: calibrated fresh, not from an earlier run
    np.testing.assert_allclose(fast["dimension"], ref["dimension"], rtol=RTOL64.get(name, 1e-9))


@pytest.mark.parametrize("k", [20, 101])  # C(20, 2) pairs: all of them; C(101, 2) > 5000: replayed draws
def test_ess_matches_plain_including_random_pairs(ball64, k):
    X = ball64[:150] if k > 100 else ball64
    fast = estimate_id(X, ["ESS"], n_neighbors=k, budget_s=None)
    plain = estimate_id(X, ["ESS"], n_neighbors=k, fast=False)
    np.testing.assert_allclose(fast["dimension"][0], plain["dimension"][0], rtol=1e-9)


def test_float32_input_agrees_to_float32_rounding():
    X = _data("manifold-id8-in128", 300, np.float32)
    names = ["MLE", "TwoNN", "ESS", "FisherS", "CorrInt", "MADA", "MOM", "TLE", "GRIDE", "MiND_ML"]
    fast = estimate_id(X, names, n_neighbors=20, budget_s=None)
    plain = estimate_id(X, names, n_neighbors=20, fast=False)
    assert (fast["status"] == "ok").all()
    np.testing.assert_allclose(fast["dimension"], plain["dimension"], rtol=1e-4)


def test_table_shape_columns_and_attrs(ball64):
    t = estimate_id(ball64, ["MLE", "TwoNN", "lPCA"])
    assert list(t.columns) == ["estimator", "dimension", "status", "seconds", "predicted_s", "peak_mb",
                               "n_neighbors", "note"]
    assert list(t["estimator"]) == ["MLE", "TwoNN", "lPCA"]
    assert (t["status"] == "ok").all() and (t["seconds"] >= 0).all()
    assert t.attrs["n"] == 300 and t.attrs["d"] == 64 and t.attrs["k"] == 20
    assert list(t["n_neighbors"]) == [20, 2, 0]
    # a 10-d ball: every sane estimator lands near 10
    assert t.set_index("estimator")["dimension"].between(6, 12).all()


def test_all_estimators_run_with_default_budget(ball64):
    t = estimate_id(ball64, params=SMALL)
    assert list(t["estimator"]) == list(ESTIMATORS)
    assert (t["status"] == "ok").all(), t[["estimator", "status"]]


def test_budget_skips_before_starting(ball64):
    t = estimate_id(ball64, ["PH", "MLE"], budget_s=1e-3)
    ph = t.set_index("estimator").loc["PH"]
    assert ph["status"].startswith("skipped: over budget")
    assert np.isnan(ph["dimension"]) and np.isnan(ph["seconds"])  # never started
    assert ph["predicted_s"] > 1e-3


def test_budget_decisions_ignore_the_machine_speed(ball64, monkeypatch):
    """Skips depend on the cost model only: a neighbour search that ran 1000x slower than
    predicted (a busy machine) is reported in attrs but skips nothing more."""
    from rae_explore.intrinsic import estimate as est_mod

    names = ["MLE", "TwoNN", "PH"]
    budget = predict_seconds("MLE", len(ball64), ball64.shape[1]) * 2  # MLE and TwoNN fit, PH does not
    calm = estimate_id(ball64, names, budget_s=budget)
    real = est_mod.nearest_neighbours

    def slow(*a, **kw):
        nb = real(*a, **kw)
        return dataclasses.replace(nb, seconds=nb.seconds * 1000 + 100.0)

    monkeypatch.setattr(est_mod, "nearest_neighbours", slow)
    busy = estimate_id(ball64, names, budget_s=budget)
    assert list(busy["status"]) == list(calm["status"]) == ["ok", "ok", busy["status"][2]]
    assert busy["status"][2].startswith("skipped: over budget")
    np.testing.assert_array_equal(busy["predicted_s"], calm["predicted_s"])
    np.testing.assert_array_equal(busy["dimension"], calm["dimension"])
    assert busy.attrs["slowdown"] > 100 * max(calm.attrs["slowdown"], 1e-3)  # measured, reported only


def test_budget_decisions_ignore_a_warm_danco_cache(ball64, danco_cache):
    """A cached calibration makes DANCo fast, but the budget still predicts the uncached cost:
    a second run must skip exactly what the first one did."""
    p = {"DANCo": {"D": 12}}
    full = predict_seconds("DANCo", len(ball64), ball64.shape[1], p["DANCo"])
    cold = estimate_id(ball64, ["DANCo"], params=p, budget_s=None, cache_dir=danco_cache).iloc[0]
    assert cold["status"] == "ok" and any(danco_cache.iterdir())
    warm = estimate_id(ball64, ["DANCo"], params=p, budget_s=full * 0.99, cache_dir=danco_cache).iloc[0]
    assert warm["status"].startswith("skipped: over budget") and warm["predicted_s"] == full


def test_predicted_cost_grows_with_n_and_skips_ph_and_danco_at_100k():
    p = {e: predict_seconds(e, 100_000, 128) for e in ESTIMATORS}
    assert p["PH"] > 3600 and p["DANCo"] > 600  # O(1000 n^2) and O(n^2 D^2): budget skips
    for e in ("MLE", "TwoNN", "MOM", "MADA", "GRIDE", "CorrInt", "TLE", "ESS", "FisherS", "DANCoFit", "KNN"):
        assert p[e] < 60, (e, p[e])
    assert predict_seconds("PH", 2000, 64) > predict_seconds("PH", 1000, 64)


def test_twonn_float32_rounding_does_not_create_zero_distances():
    """Pairs 1e-3 apart at norm ~1e3: faiss's float32 |x|^2+|y|^2-2xy rounds their distance to
    0 or to noise; the recomputed float64 distances keep the true ratios."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((200, 16)) + 1000.0
    X = np.concatenate([base, base + 1e-3 * rng.standard_normal(base.shape)]).astype(np.float64)
    fast = estimate_id(X, ["TwoNN", "MLE"], budget_s=None)
    plain = estimate_id(X, ["TwoNN", "MLE"], fast=False)
    assert fast["note"][0] == ""  # no point dropped for a zero distance
    np.testing.assert_allclose(fast["dimension"], plain["dimension"], rtol=1e-6)
    nb = nearest_neighbours(X, 2)
    assert (nb.dist[:, 0] > 0).all()


def test_duplicates_are_dropped_by_default_and_handled_otherwise(ball64):
    X = np.concatenate([ball64, ball64[:20]])
    t = estimate_id(X, ["TwoNN", "MLE", "MiND_ML"])
    assert t.attrs["n_duplicates"] == 20 and t.attrs["n"] == 300
    ref = estimate_id(ball64, ["TwoNN", "MLE", "MiND_ML"])
    np.testing.assert_allclose(t["dimension"], ref["dimension"], rtol=1e-12)
    # kept: zero distances are exact, TwoNN drops those points (its documented behaviour)
    raw = estimate_id(X, ["TwoNN"], deduplicate=False).iloc[0]
    assert raw["status"] == "ok" and "Dropping 40 points" in raw["note"]
    assert "40 rows have an exact duplicate" in raw["note"]


def test_first_occurrence_exact_including_negative_zero():
    X = np.array([[0.0, 1.0], [1.0, 2.0], [-0.0, 1.0], [1.0, 2.0], [3.0, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(first_occurrence(X), [0, 1, 0, 1, 4])


def test_danco_fit_handles_large_n_and_wide_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5200, 6)) @ rng.standard_normal((6, 110))
    row = estimate_id(X, ["DANCoFit"]).iloc[0]
    assert row["status"] == "ok", row["status"]
    assert "5,000-point subsample" in row["note"] and "D (largest dimension considered) set to 100" in row["note"]
    assert 4 < row["dimension"] < 8
    # plain scikit-dimension refuses both
    plain = estimate_id(X[:600], ["DANCoFit"], fast=False).iloc[0]
    assert plain["status"].startswith("failed") and "D <= 100" in plain["status"]


def test_failures_are_reported_not_raised(ball64):
    # GRIDE with n2 larger than the data: scikit-dimension's own error, kept in the status
    t = estimate_id(ball64[:10], ["GRIDE", "MLE"], params={"GRIDE": {"n1": 8, "n2": 20}})
    g = t.set_index("estimator").loc["GRIDE"]
    assert g["status"].startswith("failed: ValueError") and np.isnan(g["dimension"])
    assert t.set_index("estimator").loc["MLE", "status"] == "ok"


@pytest.mark.parametrize("bad, err, match", [
    (dict(estimators=["MLE", "nope"]), ValueError, "unknown intrinsic-dimension estimator 'nope'.*TwoNN"),
    (dict(estimators=["MLE"], params={"MLE": {"foo": 1}}), ValueError, r"MLE has no parameter\(s\) \['foo'\]"),
    (dict(estimators=["MLE"], n_neighbors=1), ValueError, "n_neighbors must be an integer >= 2"),
    (dict(estimators=["MLE"], budget_s=0), ValueError, "budget_s must be > 0"),
    (dict(estimators=[]), ValueError, "estimators is empty"),
])
def test_bad_arguments_raise_clear_errors(ball64, bad, err, match):
    with pytest.raises(err, match=match):
        estimate_id(ball64, **bad)


def test_bad_input_raises_clear_errors(ball64):
    X = ball64.copy()
    X[7, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in 1 row.*first at row 7"):
        estimate_id(X, ["MLE"])
    with pytest.raises(ValueError, match="2-d array.*reshape"):
        estimate_id(ball64[0], ["MLE"])
    with pytest.raises(TypeError, match="must hold numbers"):
        estimate_id(np.array([["a", "b"], ["c", "d"], ["e", "f"]]), ["MLE"])
    with pytest.raises(ValueError, match="only 1 distinct rows; at least 3 are needed"):
        estimate_id(np.ones((5, 4)), ["MLE"])


def test_nearest_neighbours_match_brute_force_and_exclude_self(rng):
    X = rng.standard_normal((300, 12))
    X[10] = X[11]  # one duplicate pair: each other's nearest neighbour at distance exactly 0
    nb = nearest_neighbours(X, 15, n_exact=10)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, :15]
    np.testing.assert_allclose(nb.dist, np.take_along_axis(D, order, 1), rtol=1e-5)
    np.testing.assert_allclose(nb.dist[:, :10], np.take_along_axis(D, order, 1)[:, :10], rtol=1e-13)
    assert not (nb.idx == np.arange(300)[:, None]).any()
    assert nb.idx[10, 0] == 11 and nb.dist[10, 0] == 0.0 and nb.n_duplicates == 2
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, n - 1 = 299\]"):
        nearest_neighbours(X, 300)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scikit-dimension's own TLE, in the reference run
def test_local_id_matches_plain_pointwise_estimates(ball64):
    pw = local_id(ball64, n_neighbors=20)
    assert list(pw.columns) == ["MLE", "TLE", "MOM", "MADA", "ESS", "lPCA"] and len(pw) == 300
    for name in ("MLE", "TLE", "MOM", "MADA", "ESS"):
        ref = getattr(skdim.id, name)().fit(ball64, n_neighbors=20).dimension_pw_
        np.testing.assert_allclose(pw[name], ref, rtol=1e-6, err_msg=name)
    ref = skdim.id.lPCA().fit_pw(ball64, n_neighbors=20).dimension_pw_
    np.testing.assert_array_equal(pw["lPCA"], ref)


def test_local_id_gives_every_copy_of_a_duplicate_its_estimate(ball64):
    X = np.concatenate([ball64, ball64[:5]])
    pw = local_id(X, ["MLE", "lPCA"])
    assert len(pw) == 305 and pw.attrs["n_duplicates"] == 5
    np.testing.assert_array_equal(pw.iloc[300:].to_numpy(), pw.iloc[:5].to_numpy())
    with pytest.raises(ValueError, match="no pointwise estimates for \\['TwoNN'\\]"):
        local_id(X, ["TwoNN"])


def test_return_pointwise_and_shared_neighbours(ball64):
    nb = nearest_neighbours(ball64, 100)
    t, pw = estimate_id(ball64, ["MLE", "MOM", "TwoNN"], neighbours=nb, return_pointwise=True)
    assert t.attrs["neighbours_seconds"] == 0.0  # nothing recomputed
    assert list(pw.columns) == ["MLE", "MOM"] and len(pw) == 300
    # MLE's global estimate is the harmonic mean of its pointwise ones (comb="mle")
    np.testing.assert_allclose(t["dimension"][0], 1 / np.mean(1 / pw["MLE"]))


def test_importing_skdim_keeps_warning_filters():
    """scikit-dimension's FisherS module runs warnings.filterwarnings("ignore") when imported;
    our import restores the filters (checked in a fresh interpreter, where skdim is not loaded)."""
    code = ("import sys, warnings; from rae_explore.intrinsic.estimate import _skdim; "
            "assert 'skdim' not in sys.modules; before = list(warnings.filters); _skdim(); "
            "assert 'skdim' in sys.modules; assert list(warnings.filters) == before, warnings.filters[:2]")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_random_state_makes_stochastic_estimators_reproducible(ball64):
    a = estimate_id(ball64, ["KNN", "PH"], params=SMALL, random_state=3)
    b = estimate_id(ball64, ["KNN", "PH"], params=SMALL, random_state=3)
    pd.testing.assert_series_equal(a["dimension"], b["dimension"])


@pytest.mark.slow
@pytest.mark.parametrize("true_id", [8, 32, 64])
def test_paper_synthetic_manifolds_recovered(true_id):
    """The autoencoder paper's check: nonlinear manifolds of ID 8, 32, 64 in 128-d.

    Nearest-neighbour estimators underestimate high IDs on finite samples (the curse of
    dimensionality), so the band is wide at 32 and 64, but the estimates must rise with the
    truth and the consensus must be in the right range: a broken pipeline (wrong distances,
    self as neighbour, mixed-up columns) lands far outside.
    """
    X = _data(f"manifold-id{true_id}-in128", 4000, np.float32)
    t = estimate_id(X, ["MLE", "TwoNN", "MOM", "TLE", "GRIDE", "MADA", "CorrInt", "DANCoFit"]).set_index("estimator")
    assert (t["status"] == "ok").all(), t["status"]
    med = t["dimension"].median()
    lo, hi = {8: (6, 11), 32: (16, 36), 64: (24, 68)}[true_id]
    assert lo <= med <= hi, t["dimension"]
    assert t.loc["MLE", "dimension"] <= true_id * 1.15


def test_cli_prints_and_writes_the_table_atomically(tmp_path, capsys):
    from rae_explore.cli import main

    out, pw = tmp_path / "id.csv", tmp_path / "pw.csv"
    rc = main(["intrinsic-dim", "ball-id10-in64", "--n-samples", "3000", "--estimators", "MLE", "TwoNN", "PH",
               "--budget", "5", "--out", str(out), "--pointwise", str(pw)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "MLE" in text and "skipped: over budget" in text and f"-> {out}" in text
    t = pd.read_csv(out)
    assert list(t["estimator"]) == ["MLE", "TwoNN", "PH"] and t["dimension"][:2].between(6, 12).all()
    p = pd.read_csv(pw, index_col=0)
    assert len(p) == 2700 and "lPCA" in p.columns
    assert sorted(x.name for x in tmp_path.iterdir()) == ["id.csv", "pw.csv"]  # no temporary files left
    assert main(["intrinsic-dim", "ball-id10-in64", "--estimators", "nope"]) == 2
    assert "unknown intrinsic-dimension estimator 'nope'" in capsys.readouterr().err
    assert main(["intrinsic-dim", "ball-id10-in64", "--out", str(tmp_path / "x.txt")]) == 2


def test_danco_calibration_cache_gives_identical_estimates(ball64, danco_cache):
    """The simulated calibration depends on N, k, D and the seed only: cached, it changes nothing."""
    p = {"DANCo": {"D": 12}}
    assert not any(danco_cache.iterdir())  # cold: nothing cached by an earlier run
    cold = estimate_id(ball64, ["DANCo"], params=p, cache_dir=danco_cache).iloc[0]
    files = list(danco_cache.iterdir())
    assert len(files) == 1 and "N300-k10-seed0" in files[0].name
    warm = estimate_id(ball64, ["DANCo"], params=p, cache_dir=danco_cache).iloc[0]
    assert warm["dimension"] == cold["dimension"]
    assert "read from the cache" in warm["note"] and "read from the cache" not in str(cold["note"])
    # a calibration up to D=12 serves D=8 exactly (entry j depends on the draws for 1..j only)
    small = estimate_id(ball64, ["DANCo"], params={"DANCo": {"D": 8}}, cache_dir=danco_cache).iloc[0]
    fresh = estimate_id(ball64, ["DANCo"], params={"DANCo": {"D": 8}}, cache_dir=None).iloc[0]
    assert "read from the cache" in small["note"] and small["dimension"] == fresh["dimension"]
    # ...but not a larger D, and another seed has its own entry
    assert "read from the cache" not in str(estimate_id(ball64, ["DANCo"], params={"DANCo": {"D": 14}},
                                                        cache_dir=danco_cache).iloc[0]["note"])
    estimate_id(ball64, ["DANCo"], params=p, cache_dir=danco_cache, random_state=1)
    assert len(list(danco_cache.glob("*seed1*"))) == 1
    # the cost model knows a cached calibration is cheap even at 100k rows (estimate_id's budget
    # ignores this on purpose, see test_budget_decisions_ignore_a_warm_danco_cache)
    assert predict_seconds("DANCo", 100_000, 128, calibration_cached=True) < 60
