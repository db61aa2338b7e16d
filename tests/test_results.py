"""rae_explore.results: result tables and the finished-rows filter."""

import pandas as pd
import pytest

from rae_explore.results import config_id, ok_rows, read_rows, write_rows


def test_ok_rows_on_lists_and_frames():
    rows = [{"a": 1, "status": "ok"}, {"a": 2, "status": "error"}, {"a": 3}]
    assert [r["a"] for r in ok_rows(rows)] == [1, 3]
    df = pd.DataFrame(rows[:2])
    assert list(ok_rows(df)["a"]) == [1]
    assert len(ok_rows(pd.DataFrame({"a": [1, 2]}))) == 2  # no status column: all finished


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_rows_round_trip_and_ids_stay_strings(tmp_path, suffix):
    rows = [{"config_id": "12e4", "x": 1.5, "status": "ok"}]
    write_rows(rows, tmp_path / f"r{suffix}")
    back = read_rows(tmp_path / f"r{suffix}")
    assert back[0]["config_id"] == "12e4" and back[0]["x"] == 1.5


def test_bad_suffix_and_stable_ids(tmp_path):
    with pytest.raises(ValueError, match="must end in one of"):
        read_rows(tmp_path / "r.txt")
    assert config_id({"a": 1, "b": 2}) == config_id({"b": 2, "a": 1}) and len(config_id({})) == 16
