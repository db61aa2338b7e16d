"""The CLI's one error style: ``rae-explore <command>: error: ...``, exit 2, no traceback unless -v."""

import errno

import pytest

from rae_explore.cli import main
from rae_explore.cli.main import error_message


def test_error_message_is_one_readable_line():
    assert error_message(KeyError("no array 'x'")) == "no array 'x'"
    e = PermissionError(errno.EACCES, "Permission denied", "/data/out.csv")
    assert error_message(e) == "Permission denied, '/data/out.csv'; check the path and its permissions"
    assert error_message(ValueError("k must be >= 1")) == "k must be >= 1"
    assert "unexpected: run again with -v" in error_message(ZeroDivisionError("x"))


def test_outputs_are_checked_before_the_command_runs(tmp_path, capsys):
    out = tmp_path / ("y" * 250 + ".ivecs")
    assert main(["ground-truth", "sift5k", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rae-explore ground-truth: error: --out ") and "Use a name of at most" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="Use a name of at most"):
        main(["-v", "ground-truth", "sift5k", "--out", str(out)])


def test_a_report_folder_that_cannot_be_written_is_refused_first(capsys):
    import os

    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no /sys")
    assert main(["report", "--out", "/sys/kernel/reports"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rae-explore report: error: --out folder ") and "cannot write in the folder" in err


def test_pipeline_run_isolation_and_timeout_options():
    from rae_explore.cli.main import build_parser

    args = build_parser().parse_args(["pipeline", "run", "digits", "--out", "p.jsonl"])
    assert args.no_isolate is False and args.config_timeout is None
    args = build_parser().parse_args(["pipeline", "run", "digits", "--out", "p.jsonl", "--no-isolate",
                                      "--config-timeout", "90"])
    assert args.no_isolate is True and args.config_timeout == 90.0
