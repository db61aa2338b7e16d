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


def test_intrinsic_dim_over_several_datasets_is_one_table(tmp_path, capsys):
    out = tmp_path / "id.csv"
    code = main(["intrinsic-dim", "digits", "ball-id10-in64", "--n-samples", "600", "--estimators", "MLE", "TwoNN",
                 "--out", str(out)])
    assert code == 0
    import pandas as pd

    table = pd.read_csv(out)
    assert sorted(set(table["dataset"])) == ["ball-id10-in64", "digits"]
    assert len(table) == 4 and (table["status"] == "ok").all()
    ball = table[table["dataset"] == "ball-id10-in64"]["dimension"]
    assert ((ball > 6) & (ball < 14)).all()  # a 10-dimensional ball
    printed = capsys.readouterr().out
    assert "digits" in printed and "ball-id10-in64" in printed
    assert main(["intrinsic-dim", "digits", "ball-id10-in64", "--recommend"]) == 2  # one dataset only
    assert "take one dataset" in capsys.readouterr().err


def test_grid_commands_take_workers_or_scheduler():
    parser = build_parser()
    for cmd in (["sweep", "sift5k", "--methods", "pca", "--dims", "4", "--out", "x.csv"],
                ["pipeline", "run", "sift5k", "--index", "Flat", "--out", "x.jsonl"],
                ["report"], ["intrinsic-dim", "sift5k"]):
        assert parser.parse_args(cmd + ["--workers", "2"]).workers == 2
        assert parser.parse_args(cmd + ["--scheduler", "tcp://h:8786"]).scheduler == "tcp://h:8786"
        with pytest.raises(SystemExit):
            parser.parse_args(cmd + ["--workers", "2", "--scheduler", "tcp://h:8786"])


@pytest.mark.slow
def test_sweep_on_a_local_cluster_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(["sweep", "digits", "--methods", "pca", "rp", "--dims", "4", "--ks", "1", "10", "--out", str(out),
                 "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Dask: 2 worker(s); dashboard: http" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["method"] for r in rows) == ["pca", "rp"] and {r["status"] for r in rows} == {"ok"}
