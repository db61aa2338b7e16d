"""The rae-explore command line: dataset listing, ground truth, user errors."""

import numpy as np

from rae_explore.data import formats
from rae_explore.cli import main


def test_datasets_lists_builtins_with_metadata(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("sift5k", "digits", "minilm-wordnet", "manifold-id32-in128"):
        assert name in out
    assert "Apache-2.0" in out and "celeba-clip" not in out
    main(["datasets", "--all"])
    assert "celeba-clip" in capsys.readouterr().out


def test_ground_truth_writes_ivecs(tmp_path, sift5k):
    out = tmp_path / "gt.ivecs"
    assert main(["ground-truth", "sift5k", "--k", "5", "--out", str(out)]) == 0
    gt = formats.read_vecs(out)
    np.testing.assert_array_equal(gt, sift5k.with_ground_truth(5).gt)


def test_user_error_is_one_line(capsys, tmp_path):
    assert main(["ground-truth", "nope", "--out", str(tmp_path / "x.ivecs")]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "Traceback" not in err
