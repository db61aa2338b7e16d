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


def test_writes_merge_under_the_lock_and_refuse_foreign_files(tmp_path):
    import warnings

    from rae_explore.results import (
        IncompleteRowsWarning,
        check_results_file,
        results_lock,
    )

    path = tmp_path / "r.csv"
    write_rows([{"config_id": "a", "status": "ok", "v": 1}], path)
    write_rows([{"config_id": "b", "status": "ok", "v": 2}], path)  # another writer: "a" is kept
    assert sorted(r["config_id"] for r in read_rows(path)) == ["a", "b"]
    write_rows([{"config_id": "b", "status": "ok", "v": 3}], path, merge=False)
    assert [(r["config_id"], r["v"]) for r in read_rows(path)] == [("b", 3)]
    assert results_lock(path).lock_file == results_lock(tmp_path / "." / "r.csv").lock_file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # the lock lives elsewhere
    foreign = tmp_path / "f.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"no column\(s\) config_id, status \(its columns: a, b\)"):
        check_results_file(foreign)
    path.write_text(path.read_text() + "c,ok,4")  # a half-written last line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_results_file(path) == path  # the check itself does not warn: the run does
    with pytest.warns(IncompleteRowsWarning, match="the last line has no end"):
        assert len(read_rows(path)) == 1


def test_an_error_row_never_replaces_a_row_another_writer_finished(tmp_path):
    path = tmp_path / "r.jsonl"
    write_rows([{"config_id": "x", "status": "ok", "v": 1}], path)  # the other writer finished x
    write_rows([{"config_id": "x", "status": "error", "error": "boom"}, {"config_id": "y", "status": "ok"}], path)
    assert sorted((r["config_id"], r["status"]) for r in read_rows(path)) == [("x", "ok"), ("y", "ok")]
    write_rows([{"config_id": "x", "status": "ok", "v": 2}], path)  # a finished row does replace it
    assert [r.get("v") for r in read_rows(path) if r["config_id"] == "x"] == [2]
