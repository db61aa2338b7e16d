"""The intrinsic-dimension table at scale: each estimator on the largest subsample its budget allows, stated."""

import numpy as np
import pytest

from rae_explore.data.synthetic import synthetic
from rae_explore.intrinsic.estimate import estimate_id
from rae_explore.intrinsic.scale import estimate_id_at_scale, plan_subsamples


def test_plan_follows_the_cost_model():
    small = plan_subsamples(1_000_000, 128, budget_s=30)
    assert small == plan_subsamples(1_000_000, 128, budget_s=30)  # deterministic
    assert small["lPCA"] == 1_000_000  # covariance only: all rows
    assert 0 < small["MLE"] < 1_000_000  # the neighbour graph of all rows would take half an hour
    big = plan_subsamples(1_000_000, 128, budget_s=600)
    assert all(big[e] >= small[e] for e in small)  # more budget never means fewer rows
    assert plan_subsamples(1_000_000, 128, "PH", budget_s=1e-3) == {"PH": 0}
    with pytest.raises(ValueError, match="budget_s"):
        plan_subsamples(10, 2, budget_s=0)


def test_table_states_the_rows_and_matches_estimate_id_on_the_same_subsample(tmp_path):
    X = synthetic(d=16, nb=4000, nq=1, intrinsic_dim=4, seed=0).xb
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    kw = dict(budget_s=1.0, ladder=(1000, 300), random_state=0, cache_dir=None)
    table = estimate_id_at_scale(mm, ["lPCA", "MLE", "PH"], **kw)
    assert list(table["estimator"]) == ["lPCA", "MLE", "PH"]
    sample = dict(zip(table["estimator"], table["n_sample"]))
    assert sample == {"lPCA": 4000, "MLE": 4000, "PH": 300}
    assert (table["status"] == "ok").all() and table.attrs["n"] == 4000
    ph = table.set_index("estimator").loc["PH"]
    assert "subsample of 300 of 4,000 rows" in ph["note"]
    rows = np.sort(np.random.default_rng(0).permutation(4000)[:300])
    want = estimate_id(X[rows], ["PH"], budget_s=None, random_state=0, cache_dir=None)
    assert ph["dimension"] == pytest.approx(float(want["dimension"].iloc[0]))
    mle = estimate_id(X, ["MLE"], budget_s=None, random_state=0, cache_dir=None)
    assert table.set_index("estimator").loc["MLE", "dimension"] == pytest.approx(float(mle["dimension"].iloc[0]))
    # the memory map and the array give the same table
    again = estimate_id_at_scale(X, ["lPCA", "MLE", "PH"], **kw)
    np.testing.assert_allclose(again["dimension"], table["dimension"])


def test_an_estimator_over_budget_everywhere_is_listed_as_skipped():
    X = synthetic(d=8, nb=2000, nq=1, intrinsic_dim=3, seed=1).xb
    table = estimate_id_at_scale(X, ["TwoNN", "PH"], budget_s=0.05, ladder=(1000,), cache_dir=None)
    row = table.set_index("estimator").loc["PH"]
    assert row["n_used"] == 0 and row["status"].startswith("skipped: over budget") and np.isnan(row["dimension"])
    assert table.set_index("estimator").loc["TwoNN", "status"] == "ok"
