"""The rae-explore command line: dataset listing, ground truth, user errors, ignored reference flags."""

import json
import logging

import numpy as np
import pytest

from rae_explore.data import formats
from rae_explore.cli import main
from rae_explore.cli.main import build_parser


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


def test_eval_interval_is_accepted_and_ignored(tmp_path, capsys, caplog):
    """The reference's --eval_interval: its help says it is ignored, and it changes nothing."""
    for cmd in ("train", "baseline"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([cmd, "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert "--eval_interval" in help_text and "accepted for compatibility" in help_text
        assert "ignored" in help_text and "every N epochs" not in help_text

    results = []
    for interval in ("5", "1"):
        out = tmp_path / f"rae_{interval}.json"
        with caplog.at_level(logging.DEBUG):
            assert main(["-v", "train", "--dataset", "digits", "--num_samples", "400", "--output_dim", "8",
                         "--steps", "20", "--topk_eval", "[1,5]", "--seed", "0", "--device", "cpu",
                         "--eval_interval", interval, "--out", str(out)]) == 0
        res = json.loads(out.read_text())
        assert res["args"]["eval_interval"] == int(interval)  # stored, as the reference does
        results.append((res["final_train_accuracy"], res["final_val_accuracy"]))
    assert results[0] == results[1]
    captured = capsys.readouterr()
    said = (captured.out + captured.err + caplog.text).replace(str(tmp_path), "<tmp>").lower()
    assert "interval" not in said and "top_k@" not in said  # no claim of periodic evaluation
