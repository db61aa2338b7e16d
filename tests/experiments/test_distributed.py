"""Grids on a real Dask LocalCluster (2 worker processes): same rows, worker deaths retried, client kill resumed."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import cloudpickle
import pytest

from rae_explore.experiments.distributed import DaskExecutor, dask_client, distributed_ground_truth, executor_for
from rae_explore.experiments.sweep import sweep
from rae_explore.experiments.tasks import run_tasks
from rae_explore.results import read_rows

pytestmark = pytest.mark.slow
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers do not import the tests package


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, quiet=True) as c:
        yield c


def test_sweep_on_the_cluster_equals_the_local_sweep(client, tmp_path):
    kw = dict(ks=(1, 10), recalls=((1, 10),), dataset_kwargs={"seed": 0})
    local = sweep(["pca", "rp"], [4, 8], "digits", **kw).to_dict("records")
    out = tmp_path / "sweep.jsonl"
    dist = sweep(["pca", "rp"], [4, 8], "digits", results_path=out, executor=DaskExecutor(client), **kw)
    dist = dist.to_dict("records")
    key = lambda r: (r["method"], r["n_components"])  # noqa: E731
    assert sorted(map(key, dist)) == sorted(map(key, local)) and len(dist) == 4
    for a, b in zip(sorted(local, key=key), sorted(dist, key=key)):
        assert a["top_k@10"] == b["top_k@10"] and a["1-R@10"] == b["1-R@10"]
    assert len(read_rows(out)) == 4 and {r["status"] for r in read_rows(out)} == {"ok"}


def _dies_once(config):
    """Kill the worker process the first time this config runs (a crash, not an exception)."""
    marker = config["marker"]
    if config["i"] == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return {"i": config["i"], "pid": os.getpid()}


def test_a_worker_killed_mid_grid_is_retried_and_the_row_appears_once(client, tmp_path):
    configs = [{"i": i, "marker": str(tmp_path / "died")} for i in range(4)]
    out = tmp_path / "grid.jsonl"
    rows = run_tasks(_dies_once, configs, out, executor=DaskExecutor(client))
    assert (tmp_path / "died").exists()  # the crash happened
    assert sorted(r["i"] for r in rows) == [0, 1, 2, 3]
    assert sorted(r["i"] for r in read_rows(out)) == [0, 1, 2, 3]
    assert {r["status"] for r in rows} == {"ok"}


def _always_dies(config):
    if config["i"] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"i": config["i"]}


def test_a_task_that_always_kills_its_worker_becomes_an_error_row(tmp_path):
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with dask_client(workers=1, quiet=True) as c:
            # (tasks running beside it on the dying worker would share its fate: run it alone)
            run_tasks(_always_dies, [{"i": 1}], tmp_path / "c.jsonl", executor=DaskExecutor(c))
            rows = run_tasks(_always_dies, [{"i": 0}, {"i": 2}], tmp_path / "c.jsonl", executor=DaskExecutor(c))
            with pytest.raises(Exception, match="KilledWorker|died|killed"):
                list(DaskExecutor(c, on_crash="raise").map(_always_dies, [{"i": 1}]))
    status = {r["i"]: r["status"] for r in rows}
    assert status[1] == "error" and status[0] == status[2] == "ok"  # the cluster goes on after the crash
    assert [r for r in rows if r["i"] == 1][0]["error"].startswith("TaskCrashed")
    assert len(read_rows(tmp_path / "c.jsonl")) == 3


def _raises(config):
    if config["i"] == 2:
        raise ValueError("bad config")
    return {"i": config["i"]}


def test_a_task_that_raises_is_an_error_row(client, tmp_path):
    rows = run_tasks(_raises, [{"i": i} for i in range(3)], tmp_path / "e.jsonl", errors="record",
                     executor=DaskExecutor(client))
    status = {r["i"]: r["status"] for r in rows}
    assert status == {0: "ok", 1: "ok", 2: "error"}
    assert "bad config" in [r for r in rows if r["i"] == 2][0]["error"]


CLIENT_SCRIPT = textwrap.dedent("""
    import sys, time
    from rae_explore.experiments.distributed import dask_client, DaskExecutor
    from rae_explore.experiments.tasks import run_tasks

    def slow(config):
        time.sleep(0.6)
        return {"i": config["i"], "t": time.time()}

    if __name__ == "__main__":
        with dask_client(workers=2, quiet=True) as client:
            run_tasks(slow, [{"i": i} for i in range(12)], sys.argv[1], executor=DaskExecutor(client))
""")


def test_the_client_killed_with_sigkill_loses_nothing_and_resumes(tmp_path):
    script = tmp_path / "client.py"
    script.write_text(CLIENT_SCRIPT)
    out = tmp_path / "grid.jsonl"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (not out.exists() or len(read_rows(out)) < 3):
            assert proc.poll() is None, "the client ended before it could be killed"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # the client and its local cluster, without warning
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = read_rows(out)
    assert 3 <= len(before) < 12
    assert all(json.dumps(r) for r in before)  # every line a whole row
    # resume in this process: the finished rows are kept as they were, the others run once
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("client_script", script)
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = run_tasks(mod.slow, [{"i": i} for i in range(12)], out)
    assert sorted(r["i"] for r in rows) == list(range(12))
    kept = {r["i"]: r["t"] for r in before}
    assert all(r["t"] == kept[r["i"]] for r in rows if r["i"] in kept)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_ground_truth_over_shards_equals_one_search(client, tmp_path, metric):
    import numpy as np

    from rae_explore.data.formats import write_vecs
    from rae_explore.neighbors.knn import knn_search

    rng = np.random.default_rng(0)
    xb, xq = rng.standard_normal((3001, 16)).astype("float32"), rng.standard_normal((40, 16)).astype("float32")
    write_vecs(tmp_path / "base.fvecs", xb)
    want_D, want_I = knn_search(xq, xb, 25, metric)
    for kw in ({"client": client}, {"client": client, "shards": 7}, {"shards": 3}):
        D, I = distributed_ground_truth(xq, tmp_path / "base.fvecs", 25, metric, **kw)
        np.testing.assert_array_equal(I, want_I)
        np.testing.assert_allclose(D, want_D, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="k"):
        distributed_ground_truth(xq, tmp_path / "base.fvecs", 5000, metric)


def test_client_arguments():
    assert executor_for(None) is None
    with dask_client() as c:
        assert c is None
    with pytest.raises(ValueError, match="either workers"):
        with dask_client(workers=2, scheduler="tcp://x:1"):
            pass
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        with dask_client(workers=0):
            pass
    with pytest.raises(ConnectionError, match="no Dask scheduler answers"):
        with dask_client(scheduler="tcp://127.0.0.1:9"):
            pass


def test_file_rows_finds_the_file_and_rows_of_a_memory_map(tmp_path):
    import numpy as np

    from rae_explore.data.formats import load_vectors, write_vecs
    from rae_explore.experiments.distributed import file_rows

    X = np.arange(400 * 4, dtype=np.uint8).reshape(400, 4)
    write_vecs(tmp_path / "b.bvecs", X)
    np.save(tmp_path / "f.npy", X.astype("float32"))
    for name in ("b.bvecs", "f.npy"):
        full = load_vectors(tmp_path / name)
        assert file_rows(full) == (str(tmp_path / name), 0, 400)
        assert file_rows(full[37:250]) == (str(tmp_path / name), 37, 250)
        assert file_rows(full[::2]) is None and file_rows(full[:, :2]) is None  # not rows of the file
    assert file_rows(X) is None


def test_moments_and_evaluate_on_the_cluster_equal_this_process(client, tmp_path):
    """Workers read their own row ranges (paths, not arrays): moments, fits and rows equal the local ones."""
    import numpy as np
    from dask.distributed import get_task_stream

    from rae_explore.data.datasets import Dataset
    from rae_explore.data.formats import mmap_vecs, write_vecs
    from rae_explore.experiments.distributed import distributed_moments
    from rae_explore.experiments.evaluate import evaluate
    from rae_explore.reducers import make_reducer
    from rae_explore.reducers.moments import moments

    rng = np.random.default_rng(0)
    write_vecs(tmp_path / "b.bvecs", rng.integers(0, 120, (3000, 16)).astype(np.uint8))
    xb = mmap_vecs(tmp_path / "b.bvecs")[100:2900]
    local = moments(xb)
    dist = distributed_moments(tmp_path / "b.bvecs", client=client, rows=(100, 2900), shards=5)
    assert dist.n == local.n == 2800
    np.testing.assert_allclose(dist.mean, local.mean, rtol=1e-12)
    np.testing.assert_allclose(dist.scatter(), local.scatter(), rtol=1e-10)
    with pytest.raises(ValueError, match="rows must be"):
        distributed_moments(tmp_path / "b.bvecs", rows=(0, 3001))

    ds = Dataset("b", xb=xb, xq=rng.integers(0, 120, (30, 16)).astype(np.float32), metric="l2")
    for method, params in (("pca", {}), ("rae", {"solver": "closed_form", "alpha": 1e-5})):
        with get_task_stream(client) as ts:
            on = evaluate(make_reducer(method, n_components=5, **params), ds, ks=(1, 10), recalls=((1, 10),), client=client)
        names = {t["key"].split("-")[0] if isinstance(t["key"], str) else str(t["key"]) for t in ts.data}
        assert {"_shard_moments", "_search_shard"} <= names, names  # both ran on the workers
        off = evaluate(make_reducer(method, n_components=5, **params), ds, ks=(1, 10), recalls=((1, 10),))
        for col in ("top_k@1", "top_k@10", "1-R@10"):
            assert on[col] == off[col], (method, col)
