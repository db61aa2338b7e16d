"""The on-disk ground-truth cache: equal to the exact search, reused, and never trusted when wrong."""

import logging

import numpy as np
import pytest

from rae_explore.neighbors import gt_cache
from rae_explore.neighbors.gt_cache import cached_ground_truth, fingerprint
from rae_explore.neighbors.knn import ground_truth


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 8)).astype("float32"), rng.standard_normal((300, 8)).astype("float32")


def _files(tmp_path):
    return sorted(tmp_path.glob("gt-*.npz"))


def _no_search(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the exact search ran although the cache holds the answer")
    monkeypatch.setattr(gt_cache, "knn_search", refuse)


def test_equal_to_the_exact_search_and_reused(data, tmp_path, monkeypatch):
    xq, xb = data
    first = cached_ground_truth(xq, xb, 10, "l2", cache_dir=tmp_path, min_work=0)
    np.testing.assert_array_equal(first, ground_truth(xq, xb, 10, "l2"))
    assert first.dtype == np.int64 and len(_files(tmp_path)) == 1
    _no_search(monkeypatch)
    np.testing.assert_array_equal(cached_ground_truth(xq, xb, 10, "l2", cache_dir=tmp_path, min_work=0), first)
    # fewer columns come from the same file
    np.testing.assert_array_equal(cached_ground_truth(xq, xb, 3, "l2", cache_dir=tmp_path, min_work=0), first[:, :3])


def test_distances_are_stored_and_returned(data, tmp_path, monkeypatch):
    from rae_explore.neighbors.knn import knn_search

    xq, xb = data
    for metric in ("l2", "ip"):
        D, I = cached_ground_truth(xq, xb, 8, metric, return_distances=True, cache_dir=tmp_path, min_work=0)
        D0, I0 = knn_search(xq, xb, 8, metric)
        np.testing.assert_array_equal(I, I0)
        np.testing.assert_allclose(D, D0)
    _no_search(monkeypatch)
    D5, I5 = cached_ground_truth(xq, xb, 5, "ip", return_distances=True, cache_dir=tmp_path, min_work=0)
    np.testing.assert_array_equal(D5, D[:, :5])
    assert D5.dtype == np.float32 and I5.dtype == np.int64


def test_a_given_search_runs_on_a_miss_only(data, tmp_path):
    from rae_explore.neighbors.knn import knn_search

    xq, xb = data
    calls = []

    def search(k):
        calls.append(k)
        return knn_search(xq, xb, k, "l2")

    a = cached_ground_truth(xq, xb, 6, "l2", search=search, cache_dir=tmp_path, min_work=0)
    b = cached_ground_truth(xq, xb, 6, "l2", search=search, cache_dir=tmp_path, min_work=0)
    assert calls == [6]
    np.testing.assert_array_equal(a, b)


def test_more_columns_recompute_and_replace(data, tmp_path, monkeypatch):
    xq, xb = data
    cached_ground_truth(xq, xb, 5, "l2", cache_dir=tmp_path, min_work=0)
    wide = cached_ground_truth(xq, xb, 20, "l2", cache_dir=tmp_path, min_work=0)
    np.testing.assert_array_equal(wide, ground_truth(xq, xb, 20, "l2"))
    assert len(_files(tmp_path)) == 1
    _no_search(monkeypatch)
    assert cached_ground_truth(xq, xb, 20, "l2", cache_dir=tmp_path, min_work=0).shape == (40, 20)


def test_key_covers_data_metric_and_memory_maps(data, tmp_path):
    xq, xb = data
    cached_ground_truth(xq, xb, 5, "l2", cache_dir=tmp_path, min_work=0)
    cached_ground_truth(xq, xb, 5, "ip", cache_dir=tmp_path, min_work=0)
    other = xb.copy()
    other[123, 4] += 1e-3
    cached_ground_truth(xq, other, 5, "l2", cache_dir=tmp_path, min_work=0)
    assert len(_files(tmp_path)) == 3
    np.save(tmp_path / "xb.npy", xb)
    mm = np.load(tmp_path / "xb.npy", mmap_mode="r")
    assert fingerprint(mm, block_bytes=256) == fingerprint(xb)  # blocks do not change the digest
    assert fingerprint(xb) != fingerprint(xb.astype("float64")) != fingerprint(xb[:-1])


@pytest.mark.parametrize("damage", ["truncated", "foreign", "out_of_range", "ids_only", "unsorted", "pickle"])
def test_a_damaged_file_is_recomputed_not_trusted(data, tmp_path, damage, caplog):
    xq, xb = data
    truth = cached_ground_truth(xq, xb, 10, "l2", cache_dir=tmp_path, min_work=0)
    (path,) = _files(tmp_path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "foreign":  # another dataset's file copied under this name
        rng = np.random.default_rng(1)
        np.savez(path, I=rng.integers(0, 300, (40, 10)), D=np.zeros((40, 10), "f4"), key=np.array("other"),
                 format=np.array(2))
    elif damage in ("out_of_range", "ids_only", "unsorted"):
        with np.load(path) as f:
            key, ids, dist = f["key"], f["I"], f["D"]
        if damage == "out_of_range":
            np.savez(path, I=np.full((40, 10), 300), D=dist, key=key, format=np.array(2))
        elif damage == "ids_only":  # a file of the first format: no distances, never trusted
            np.savez(path, I=ids, key=key, format=np.array(1))
        else:
            np.savez(path, I=ids, D=dist[:, ::-1], key=key, format=np.array(2))
    else:
        np.savez(path, I=np.array([{"x": 1}], dtype=object), key=np.array("x"), format=np.array(2))
    with caplog.at_level(logging.WARNING, logger=gt_cache.__name__):
        again = cached_ground_truth(xq, xb, 10, "l2", cache_dir=tmp_path, min_work=0)
    np.testing.assert_array_equal(again, truth)
    assert "recomputing" in caplog.text
    with np.load(path, allow_pickle=False) as f:  # and the file is good again
        np.testing.assert_array_equal(f["I"], truth)
        assert int(f["format"]) == 2 and f["D"].shape == truth.shape


def test_small_problems_and_switch_off_skip_the_cache(data, tmp_path, monkeypatch):
    xq, xb = data
    cached_ground_truth(xq, xb, 5, "l2", cache_dir=tmp_path)  # 40*300*8 is far below MIN_WORK
    assert _files(tmp_path) == []
    monkeypatch.setenv("RAE_EXPLORE_GT_CACHE", "0")
    cached_ground_truth(xq, xb, 5, "l2", cache_dir=tmp_path, min_work=0)
    assert _files(tmp_path) == []


def test_read_only_cache_folder_still_answers(data, tmp_path, caplog):
    xq, xb = data
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING, logger=gt_cache.__name__):
            ids = cached_ground_truth(xq, xb, 5, "l2", cache_dir=ro, min_work=0)
    finally:
        ro.chmod(0o700)
    np.testing.assert_array_equal(ids, ground_truth(xq, xb, 5, "l2"))


def test_evaluate_and_datasets_share_the_cache(tmp_path, monkeypatch):
    from rae_explore.data.datasets import Dataset
    from rae_explore.experiments.evaluate import evaluate
    from rae_explore.reducers import make_reducer

    monkeypatch.setattr(gt_cache, "GT_CACHE_DIR", tmp_path)
    monkeypatch.setattr(gt_cache, "MIN_WORK", 0)
    rng = np.random.default_rng(2)
    ds = Dataset("toy", xb=rng.standard_normal((400, 16)).astype("float32"),
                 xq=rng.standard_normal((30, 16)).astype("float32"), metric="l2")
    row = evaluate(make_reducer("pca", n_components=4), ds, ks=(1, 10), recalls=())
    assert len(_files(tmp_path)) == 1
    _no_search(monkeypatch)  # same data: Dataset.with_ground_truth reads the file evaluate wrote
    assert ds.with_ground_truth(10).gt.shape == (30, 10)
    assert 0 <= row["top_k@10"] <= 1
