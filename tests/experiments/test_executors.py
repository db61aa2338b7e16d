"""Executors: the child process that turns a task's crash into a result and goes on."""

import os
import signal
import time

import pytest

from rae_explore.experiments.executors import ChildProcess, TaskCrashed, describe_exit


def test_a_crashing_task_is_reported_and_the_next_one_runs_in_a_fresh_child():
    ex = ChildProcess(on_crash=lambda task, msg: ("crashed", task, msg))  # on_crash runs here: no pickling
    out = list(ex.map(signal.raise_signal, [signal.SIGSEGV, signal.SIGABRT]))
    assert [o[0] for o in out] == ["crashed", "crashed"]
    assert "SIGSEGV (11)" in out[0][2] and "SIGABRT (6)" in out[1][2] and "fresh process" in out[0][2]
    assert ex.crashes == 2 and ex.starts == 2


def test_results_and_exceptions_come_back_and_one_child_serves_every_task():
    ex = ChildProcess()
    assert list(ex.map(abs, [-1, -2, 3])) == [1, 2, 3]
    assert ex.starts == 1
    with ChildProcess() as ex, pytest.raises(TypeError, match="bad operand type for abs"):
        ex.submit(abs, "x")
    with pytest.raises(TaskCrashed, match=r"died with exit code 3"):
        ChildProcess().submit(os._exit, 3)


def test_timeout_stops_a_hanging_task():
    ex = ChildProcess(lambda task, msg: msg, timeout_s=0.5)
    assert "time limit of 0.5 s" in ex.submit(time.sleep, 60)
    assert ex.submit(abs, -4) == 4  # a fresh child after the stopped one
    ex.close()
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        ChildProcess(timeout_s=0)


def test_describe_exit():
    assert describe_exit(-8) == "signal SIGFPE (8)" and describe_exit(2) == "exit code 2"

