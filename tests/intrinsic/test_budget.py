"""rae_explore.intrinsic.budget: DANCo's calibration cache and the calibrations bundled with the repository."""

import json

from rae_explore.intrinsic import budget


def _cal(N=50, k=10, maxdim=8):
    return {"k": k, "N": N, "maxdim": maxdim, "calibration_data": [{"dhat": 1.0}] * maxdim}


def test_bundled_calibrations_are_found_with_any_cache_but_never_without_one(tmp_path, monkeypatch):
    bundled, cache = tmp_path / "bundled", tmp_path / "cache"
    monkeypatch.setattr(budget, "BUNDLED_DANCO_DIR", bundled)
    budget.save_danco_calibration(bundled, _cal(), 8, 0)  # as the repository ships it
    assert budget.load_danco_calibration(cache, 50, 10, 8, 0)["maxdim"] == 8
    assert budget.load_danco_calibration(cache, 50, 10, 9, 0) is None  # too short for D=9
    assert budget.load_danco_calibration(cache, 50, 10, 8, 1) is None  # another seed
    assert budget.load_danco_calibration(None, 50, 10, 8, 0) is None  # no cache: simulate
    budget.save_danco_calibration(cache, _cal(), 8, 0)
    assert not cache.exists()  # already available: no copy written


def test_the_default_reports_calibration_ships_with_the_repository():
    files = sorted(budget.BUNDLED_DANCO_DIR.glob("danco-N4500-k10-seed0-skdim*.json"))
    assert files, "data/danco-calibration/ should hold sift5k's calibration (N=4500, k=10, seed 0)"
    cal = json.loads(files[-1].read_text())
    assert cal["N"] == 4500 and cal["k"] == 10 and cal["maxdim"] >= 128
