"""Vector file formats: round-trips, memory maps that do not read, and clear errors."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from rae_explore.data import formats


@pytest.mark.parametrize("ext,dtype", [(".fvecs", np.float32), (".ivecs", np.int32), (".bvecs", np.uint8)])
def test_vecs_round_trip(tmp_path, rng, ext, dtype):
    x = rng.integers(0, 200, size=(37, 12)).astype(dtype)
    path = tmp_path / f"x{ext}"
    formats.write_vecs(path, x)
    assert path.stat().st_size == 37 * (4 + 12 * np.dtype(dtype).itemsize)
    back = formats.read_vecs(path)
    assert back.dtype == dtype and back.flags.c_contiguous
    np.testing.assert_array_equal(back, x)
    mm = formats.mmap_vecs(path)
    assert mm.shape == (37, 12)
    np.testing.assert_array_equal(np.asarray(mm[5:9]), x[5:9])
    np.testing.assert_array_equal(formats.read_vecs(path, 30, 99), x[30:])
    blocks = list(formats.iter_vecs(path, block_size=10))
    assert [a for a, _ in blocks] == [0, 10, 20, 30]
    assert blocks[-1][1].shape == (7, 12)  # last partial block included
    np.testing.assert_array_equal(np.vstack([b for _, b in blocks]), x)


def test_vecs_matches_shared_sift_files():
    """The bundled .bvecs and .fvecs hold the same vectors as the NGT .tsv they came from."""
    from rae_explore.paths import DATA_DIR

    tsv = np.loadtxt(DATA_DIR / "sift5k" / "sift-dataset-5k.tsv", delimiter="\t")
    np.testing.assert_array_equal(tsv[:, -1], np.arange(100001, 105001))
    b = formats.read_vecs(DATA_DIR / "sift5k" / "sift5k_base.bvecs")
    f = formats.read_vecs(DATA_DIR / "sift5k" / "sift5k_base.fvecs")
    np.testing.assert_array_equal(b, tsv[:, :128])
    np.testing.assert_array_equal(f, tsv[:, :128])


def test_huge_bvecs_opens_without_reading(tmp_path):
    """A 1e9-record .bvecs (sparse file) opens and slices without loading: RSS stays small."""
    n, d = 10**9, 4
    rec = 4 + d
    path = tmp_path / "huge.bvecs"
    with open(path, "wb") as f:
        f.truncate(n * rec)
        # headers where mmap_vecs samples them, plus the rows we slice
        sample = np.unique(np.linspace(0, n - 1, num=formats._HEADER_SAMPLE).astype(np.int64))
        rows = np.arange(700_000_000, 700_000_010)
        for i in np.concatenate([sample, rows]):
            f.seek(int(i) * rec)
            f.write(np.int32(d).tobytes() + (np.arange(d, dtype=np.uint8) + (i % 7)).astype(np.uint8).tobytes())
    # measured in a fresh process: ru_maxrss is a high-water mark that earlier tests here may have raised
    child = f"""
import json, resource, sys
import numpy as np
from rae_explore.data import formats
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
rss0 = rss()
mm = formats.mmap_vecs({str(path)!r})
got = np.array(mm[700_000_000:700_000_010])
rss1 = rss()
read = formats.read_vecs({str(path)!r}, 700_000_000, 700_000_010)
rss2 = rss()
json.dump(dict(shape=list(mm.shape), got=got.tolist(), read=read.tolist(), rss=[rss0, rss1, rss2]), sys.stdout)
"""
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    want = np.stack([np.arange(d) + (i % 7) for i in rows]).astype(np.uint8)
    assert out["shape"] == [n, d]
    np.testing.assert_array_equal(out["got"], want)
    np.testing.assert_array_equal(out["read"], want)
    rss0, rss1, rss2 = out["rss"]
    assert (rss1 - rss0) < 200 * 1024 and (rss2 - rss0) < 200 * 1024  # KiB: far below the 8 GB file


def test_truncated_vecs_file_is_named(tmp_path):
    path = tmp_path / "t.fvecs"
    formats.write_vecs(path, np.ones((10, 8), np.float32))
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 5)
    for fn in (formats.read_vecs, formats.mmap_vecs, formats.vecs_layout):
        with pytest.raises(ValueError, match="truncated.*9 complete records"):
            fn(path)


def test_varying_header_is_refused(tmp_path):
    path = tmp_path / "v.ivecs"
    formats.write_vecs(path, np.ones((10, 8), np.int32))
    with open(path, "r+b") as f:
        f.seek(3 * (4 + 32))
        f.write(np.int32(9).tobytes())
    with pytest.raises(ValueError, match="record 3 has dimension header 9"):
        formats.read_vecs(path)
    with pytest.raises(ValueError, match="record 3 has dimension header 9"):
        formats.mmap_vecs(path)  # 10 records: all headers are in the sample
    np.testing.assert_array_equal(formats.read_vecs(path, 0, 3), np.ones((3, 8)))


def test_vecs_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.fvecs"):
        formats.read_vecs(tmp_path / "nope.fvecs")
    with pytest.raises(ValueError, match="unknown vecs format"):
        formats.write_vecs(tmp_path / "x.vecs", np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"outside \[0, 255\]"):
        formats.write_vecs(tmp_path / "x.bvecs", np.full((2, 2), 300))
    with pytest.raises(ValueError, match="non-integer"):
        formats.write_vecs(tmp_path / "x.ivecs", np.full((2, 2), 0.5))
    (tmp_path / "e.fvecs").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        formats.mmap_vecs(tmp_path / "e.fvecs")


def test_npy_npz_round_trip(tmp_path, rng):
    x = rng.standard_normal((20, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    mm = formats.load_npy(tmp_path / "x.npy")
    assert isinstance(mm, np.memmap)
    np.testing.assert_array_equal(mm, x)
    formats.save_npz(tmp_path / "x.npz", embeddings=x, other=x[:2])
    np.testing.assert_array_equal(formats.load_npz(tmp_path / "x.npz"), x)
    with pytest.raises(KeyError, match="holds.*embeddings"):
        formats.load_npz(tmp_path / "x.npz", key="missing")
    np.testing.assert_array_equal(formats.load_vectors(tmp_path / "x.npz"), x)


def test_hdf5_round_trip(tmp_path, rng):
    train = rng.standard_normal((30, 6)).astype(np.float32)
    test = rng.standard_normal((4, 6)).astype(np.float32)
    nbrs = rng.integers(0, 30, size=(4, 3))
    formats.write_ann_hdf5(tmp_path / "a.hdf5", train, test, nbrs, np.zeros((4, 3)), distance="angular")
    h = formats.read_ann_hdf5(tmp_path / "a.hdf5")
    np.testing.assert_array_equal(h["train"], train)
    np.testing.assert_array_equal(h["test"], test)
    np.testing.assert_array_equal(h["neighbors"], nbrs)
    assert h["metric"] == "cosine"
    h10 = formats.read_ann_hdf5(tmp_path / "a.hdf5", n_base=10)
    assert h10["train"].shape == (10, 6) and h10["neighbors"] is None  # gt no longer valid


def test_pickle_with_arrays_loads(tmp_path, rng):
    obj = {"embeddings": rng.standard_normal((3, 4)).astype(np.float32), "names": ["a", "b"],
           "nested": {"x.jpg": np.arange(3), "n": (1, 2.5, np.float32(3))}}
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps(obj, protocol=4))
    back = formats.load_pickle(tmp_path / "ok.pkl")
    np.testing.assert_array_equal(back["embeddings"], obj["embeddings"])
    assert back["names"] == ["a", "b"] and back["nested"]["n"][2] == 3
    np.testing.assert_array_equal(formats.loads_pickle(pickle.dumps(obj, protocol=5))["nested"]["x.jpg"], np.arange(3))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/rae_explore_pwned",))


def test_pickle_carrying_a_callable_is_refused(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"embeddings": _Evil()}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (posix|os)\.system"):
        formats.load_pickle(tmp_path / "evil.pkl")
    assert not os.path.exists("/tmp/rae_explore_pwned")
    # a plain class instance is refused as well (pickled by builtins' reducer, or by tblib's once
    # dask.distributed has installed it for exceptions: either way a callable the loader refuses)
    (tmp_path / "cls.pkl").write_bytes(pickle.dumps(ValueError("x")))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (builtins\.ValueError|tblib\.)"):
        formats.load_pickle(tmp_path / "cls.pkl")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "r.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with formats.atomic_write(target, "w") as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]
    with formats.atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"


def test_atomic_write_gives_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with formats.atomic_write(tmp_path / "p.txt", "w") as f:
            f.write("x")
        formats.write_vecs(tmp_path / "p.fvecs", np.ones((1, 2)))
    finally:
        os.umask(old)
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "p.fvecs").stat().st_mode & 0o777 == 0o644


def test_vecs_map_checks_headers_of_rows_it_hands_out(tmp_path, monkeypatch):
    path = tmp_path / "x.fvecs"
    formats.write_vecs(path, np.arange(40, dtype=np.float32).reshape(10, 4))
    raw = bytearray(path.read_bytes())
    raw[6 * 20: 6 * 20 + 4] = np.int32(3).tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="record 6 has dimension header 3"):
        formats.mmap_vecs(path)  # a small file: every header checked at open
    monkeypatch.setattr(formats, "_FULL_CHECK_BYTES", 0)
    monkeypatch.setattr(formats, "_HEADER_SAMPLE", 2)
    x = formats.mmap_vecs(path)
    np.testing.assert_array_equal(x[1:3], [[4, 5, 6, 7], [8, 9, 10, 11]])
    with pytest.raises(ValueError, match="record 6 has dimension header 3"):
        x[[0, 6]]


def test_check_real_names_the_file_and_dtype():
    assert formats.check_real(np.ones(2, np.int8), "f.npy") is not None
    with pytest.raises(TypeError, match=r"f.npy: the array holds complex numbers \(dtype complex64\)"):
        formats.check_real(np.ones(2, np.complex64), "f.npy")
