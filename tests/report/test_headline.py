"""rae_explore.report.headline: what a run records for the index page."""

import numpy as np

from rae_explore.report import headline


def test_record_merges_and_converts(tmp_path):
    headline.record(tmp_path, recommended_dim=np.int64(24), intrinsic_dimension={"MLE": np.float32(17.5)})
    head = headline.record(tmp_path, best={"16": ("pca", np.float64(0.61))}, bad=float("nan"))
    assert head == {"recommended_dim": 24, "intrinsic_dimension": {"MLE": 17.5}, "best": {"16": ["pca", 0.61]},
                    "bad": None}
    assert headline.read(tmp_path) == head


def test_read_tolerates_missing_and_broken_files(tmp_path):
    assert headline.read(tmp_path) == {}
    (tmp_path / headline.HEADLINE_FILE).write_text("{not json")
    assert headline.read(tmp_path) == {}
