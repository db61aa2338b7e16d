"""progress_bar: tqdm.auto interactively, plain lines in a batch kernel; ProgressFile reads them back."""

import io
import sys

import numpy as np
import pytest

from rae_explore import progress
from rae_explore.progress import ProgressFile, progress_bar


@pytest.fixture
def batch_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.log"
    monkeypatch.setenv(progress.BATCH_ENV, "1")
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    return path


def _lines(path):
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_outside_a_batch_it_is_tqdm_auto(monkeypatch):
    from tqdm.auto import tqdm

    monkeypatch.delenv(progress.BATCH_ENV, raising=False)
    bar = progress_bar(range(3), desc="x", unit="config", disable=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1, 2]


def test_batch_bars_write_one_tab_separated_line_per_display(batch_file):
    assert list(progress_bar(range(4), desc="sweep", unit="config")) == [0, 1, 2, 3]
    lines = _lines(batch_file)
    assert all(len(line) == 3 for line in lines)
    bar_ids = {line[0] for line in lines}
    assert len(bar_ids) == 1
    assert lines[0][1:] == ["open", "sweep: 0/4 config [00:00<?]"]
    assert lines[-1][1] == "done" and lines[-1][2].startswith("sweep: 4/4 config")
    assert sum(line[1] == "done" for line in lines) == 1  # closed once, even though tqdm clears too
    assert "\r" not in batch_file.read_text() and "\x1b" not in batch_file.read_text()


def test_progress_file_follows_nested_bars(batch_file):
    live = ProgressFile(batch_file)
    assert live.poll() == ""  # no file yet
    outer = progress_bar(total=3, desc="sweep", unit="config")
    inner = progress_bar(total=10, desc="rae", unit="step")
    assert live.poll() == "sweep: 0/3 config [00:00<?] > rae: 0/10 step [00:00<?]"
    inner.close()
    assert live.poll() == "sweep: 0/3 config [00:00<?]"
    outer.update(3)
    outer.close()
    assert live.poll() == ""


def test_progress_file_reads_whole_lines_only_and_restarts_on_a_new_file(tmp_path):
    path = tmp_path / "progress.log"
    live = ProgressFile(path)
    path.write_text("1.1\topen\tsweep: 1/4 config\n1.1\topen\tsweep: 2/4")
    assert live.poll() == "sweep: 1/4 config"  # the half-written line waits
    with open(path, "a") as f:
        f.write(" config\nnot a bar line\n")
    assert live.poll() == "sweep: 2/4 config"
    path.write_text("2.1\topen\tknn: 1/2 block\n")  # a new run truncated the file
    assert live.poll() == "knn: 1/2 block"


def test_postfix_refreshes_are_throttled(batch_file, monkeypatch):
    monkeypatch.setattr(progress, "MININTERVAL_S", 60.0)
    bar = progress_bar(total=100, desc="train", unit="step")
    for i in range(100):
        bar.update(1)
        bar.set_postfix(loss=1.0 / (i + 1))
    bar.close()
    states = [line[1] for line in _lines(batch_file)]
    assert states == ["open", "done"]  # the first line, then the final one
    assert "100/100" in _lines(batch_file)[-1][2]


def test_without_a_progress_file_batch_bars_go_to_the_real_stderr(monkeypatch):
    monkeypatch.setenv(progress.BATCH_ENV, "1")
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    err = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", err)
    list(progress_bar(range(2), desc="knn", unit="block"))
    assert "\topen\tknn: 0/2 block" in err.getvalue() and "\tdone\tknn: 2/2 block" in err.getvalue()


def test_package_loops_report_through_the_helper(batch_file):
    from rae_explore.experiments.tasks import run_tasks
    from rae_explore.neighbors.knn import knn_search

    rows = run_tasks(lambda c: [{"x": c["x"]}], [{"x": 1}, {"x": 2}], verbose=True, desc="sweep")
    assert [r["x"] for r in rows] == [1, 2]
    xb = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    knn_search(xb[:5], xb, 3, verbose=True)
    texts = [line[2] for line in _lines(batch_file) if line[1] == "done"]
    assert any(t.startswith("sweep: 2/2 config") for t in texts)
    assert any(t.startswith("exact k-NN: ") for t in texts)  # closed when the function returns
