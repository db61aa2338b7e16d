"""Datasets: built-ins, the split protocol, the RAE paper layouts, and clear errors."""

import pickle

import numpy as np
import pytest

from rae_explore.data import formats
from rae_explore.data.datasets import DATASETS, Dataset, load_dataset, split_base_queries
from rae_explore.data.synthetic import synthetic


def test_sift5k_split_protocol():
    ds = load_dataset("sift5k", seed=0)
    assert (ds.nb, ds.nq, ds.d) == (4500, 500, 128)
    assert ds.xb.dtype == np.float32 and ds.xb.flags.c_contiguous
    assert ds.metric == "l2" and ds.gt is None
    b, q = ds.meta["base_ids"], ds.meta["query_ids"]
    assert len(set(b) | set(q)) == 5000 and not set(b) & set(q)
    assert str(ds) == "sift5k: nb=4,500 nq=500 d=128 metric=l2 gt=none"
    same = load_dataset("sift5k", seed=0)
    np.testing.assert_array_equal(same.xq, ds.xq)
    other = load_dataset("sift5k", seed=1)
    assert not np.array_equal(other.meta["query_ids"], q)


def test_sizes_and_subsampling():
    ds = load_dataset("sift5k", n_samples=1000, seed=3)
    assert (ds.nb, ds.nq) == (900, 100)
    ds = load_dataset("sift5k", n_base=300, n_query=20)
    assert (ds.nb, ds.nq) == (300, 20)
    with pytest.raises(ValueError, match="n_base \\+ n_query <= 5000"):
        load_dataset("sift5k", n_base=5000, n_query=1)
    with pytest.raises(ValueError, match="query_fraction"):
        split_base_queries(100, query_fraction=1.5)


def test_digits_and_labels():
    ds = load_dataset("digits", seed=0)
    assert (ds.nb + ds.nq, ds.d) == (1797, 64)
    assert ds.labels.shape == (ds.nb,) and ds.query_labels.shape == (ds.nq,)
    assert set(np.unique(ds.labels)) == set(range(10))


def test_minilm_wordnet_is_real_unit_norm_text_embeddings():
    ds = load_dataset("minilm-wordnet", n_samples=2000)
    assert ds.d == 384 and ds.metric == "cosine" and ds.nb + ds.nq == 2000
    norms = np.linalg.norm(ds.xb, axis=1)
    np.testing.assert_allclose(norms, 1, atol=1e-3)
    assert DATASETS["minilm-wordnet"].builtin


@pytest.mark.parametrize("name,id_,ambient", [("ball-id10-in64", 10, 64), ("manifold-id8-in128", 8, 128),
                                              ("manifold-id32-in128", 32, 128), ("manifold-id64-in128", 64, 128)])
def test_synthetic_manifolds(name, id_, ambient):
    ds = load_dataset(name, n_samples=600, seed=1)
    assert ds.d == ambient and ds.nb + ds.nq == 600
    assert ds.meta["intrinsic_dim"] == id_
    np.testing.assert_array_equal(load_dataset(name, n_samples=600, seed=1).xb, ds.xb)
    if name.startswith("ball"):
        # a 10-d ball: rank 10, radius <= 1
        assert np.linalg.matrix_rank(ds.xb, tol=1e-4) == 10
        assert np.linalg.norm(ds.xb, axis=1).max() <= 1 + 1e-5


def test_synthetic_helper():
    ds = synthetic(d=16, nb=100, nq=10, nt=30, intrinsic_dim=4, seed=0, noise=0)
    assert ds.xt.shape == (30, 16) and np.linalg.matrix_rank(ds.xb, tol=1e-4) == 4
    np.testing.assert_array_equal(synthetic(d=16, nb=100, nq=10, intrinsic_dim=4, seed=0, noise=0).xb, ds.xb)
    assert ds.train is ds.xt
    with pytest.raises(ValueError, match="intrinsic_dim"):
        synthetic(d=4, intrinsic_dim=5)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'sift6k'.*digits.*sift5k"):
        load_dataset("sift6k")


def test_dataset_checks():
    a = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError, match="dimension mismatch: xq has 4 columns but xb has 3"):
        Dataset("x", a, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="metric must be one of"):
        Dataset("x", a, a, metric="manhattan")
    with pytest.raises(ValueError, match="gt must have shape"):
        Dataset("x", a, a, gt=np.zeros((2, 3), np.int64))


def test_ground_truth_and_metric_override(tiny):
    ds = tiny.with_ground_truth(7)
    assert ds.gt.shape == (tiny.nq, 7) and tiny.gt is None
    ip = load_dataset("sift5k", n_base=200, n_query=10, metric="ip", gt_k=3)
    assert ip.metric == "ip" and ip.gt.shape == (10, 3)
    norm = load_dataset("digits").normalized()
    np.testing.assert_allclose(np.linalg.norm(norm.xb, axis=1), 1, rtol=1e-5)


def _paper_tree(root, rng):
    (root / "CelebA/CLIP(VIT)").mkdir(parents=True)
    celeba = {f"id{i}": {f"{j}.jpg": rng.standard_normal(512).astype(np.float32) for j in range(5)} for i in range(4)}
    (root / "CelebA/CLIP(VIT)/raw_embeddings_withname.pkl").write_bytes(pickle.dumps(celeba))
    (root / "imdb/mpnet").mkdir(parents=True)
    (root / "imdb/mpnet/imdb_train_text_embeddings.pkl").write_bytes(
        pickle.dumps({"embeddings": rng.standard_normal((30, 768)).astype(np.float32), "labels": [0] * 30}))
    (root / "ImageNet/DINOv2").mkdir(parents=True)
    np.savez(root / "ImageNet/DINOv2/ImageNet_embeddings.npz", embeddings=rng.standard_normal((40, 384)))
    (root / "flickr30k/CLIP(VIT)").mkdir(parents=True)
    (root / "flickr30k/CLIP(VIT)/flickr30k_embeddings.pkl").write_bytes(
        pickle.dumps({"combined_embeddings": rng.standard_normal((20, 1024)).astype(np.float32)}))
    (root / "SIFT1B").mkdir()
    formats.write_vecs(root / "SIFT1B/learn.bvecs", rng.integers(0, 255, (500, 128)))
    formats.write_vecs(root / "SIFT1B/queries.bvecs", rng.integers(0, 255, (12, 128)))


def test_rae_paper_layouts(tmp_path, rng):
    _paper_tree(tmp_path, rng)
    c = load_dataset("celeba-clip", tmp_path)
    assert c.d == 512 and c.nb + c.nq == 20 and c.nq == 2
    assert set(c.labels) | set(c.query_labels) <= {"id0", "id1", "id2", "id3"}
    assert load_dataset("imdb-mpnet", tmp_path).d == 768
    im = load_dataset("imagenet-dinov2", tmp_path)
    assert im.d == 384 and im.xb.dtype == np.float32
    assert load_dataset("flickr30k-clip", tmp_path).d == 1024
    s = load_dataset("sift1b", tmp_path, n_base=100, n_query=5)
    assert (s.nb, s.nq, s.d) == (100, 5, 128) and s.meta["protocol"] == "given"
    assert s.xb.dtype == np.uint8  # stays a memory map, converted per block by knn
    assert load_dataset("sift1b", tmp_path, n_base=100, n_query=5, gt_k=4).gt.shape == (5, 4)


def test_missing_paper_file_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"imdb/mpnet/imdb_train_text_embeddings.pkl"):
        load_dataset("imdb-mpnet", tmp_path)
    with pytest.raises(FileNotFoundError, match="corpus-texmex"):
        load_dataset("sift1b", tmp_path)


def test_paper_pickle_with_code_is_refused(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    (tmp_path / "imdb/mpnet").mkdir(parents=True)
    (tmp_path / "imdb/mpnet/imdb_train_text_embeddings.pkl").write_bytes(pickle.dumps({"embeddings": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_dataset("imdb-mpnet", tmp_path)


def test_load_from_paths(tmp_path, rng):
    x = rng.standard_normal((50, 8)).astype(np.float32)
    formats.write_vecs(tmp_path / "v.fvecs", x)
    ds = load_dataset(str(tmp_path / "v.fvecs"))
    assert (ds.nb, ds.nq, ds.name) == (45, 5, "v")
    formats.write_ann_hdf5(tmp_path / "toy-8-euclidean.hdf5", x, x[:3], np.tile(np.arange(4), (3, 1)))
    h = load_dataset("toy-8-euclidean", tmp_path)
    assert h.nb == 50 and h.gt.shape == (3, 4) and h.metric == "l2"
    assert load_dataset(str(tmp_path / "toy-8-euclidean.hdf5")).nq == 3


def test_loading_a_manifold_keeps_warning_filters():
    """scikit-dimension's import calls warnings.filterwarnings('ignore'); loading must not inherit it."""
    import subprocess
    import sys

    code = ("import warnings; from rae_explore.data.datasets import load_dataset; before = list(warnings.filters); "
            "load_dataset('manifold-id8-in128', n_samples=50); assert warnings.filters == before, warnings.filters[:2]")
    subprocess.run([sys.executable, "-c", code], check=True)
