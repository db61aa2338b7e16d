"""Lattice codes: the reference's radius table, nearest sphere points by brute force, the pipeline and its row."""

import itertools
import math

import faiss
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from rae_explore.index.lattice import (
    LatticeCodec,
    LatticePipeline,
    evaluate_lattice,
    lattice_bits,
    lattice_r2,
    sphere_bits,
)


@pytest.mark.parametrize("d, radii", [(16, [4, 21]), (24, [3, 10, 79]), (32, [3, 8, 36]), (40, [2, 7, 24])])
def test_radius_matches_the_spreading_vectors_table(d, radii):
    # train.py of github.com/facebookresearch/spreadingvectors: r2 for 16, 32 and 64 bits by output dimension
    # (its 64-bit entry for d=16, r2=200, is a cap: S(16, 200) has 2^54.4 points, so more fit in 64 bits)
    assert [lattice_r2(d, b) for b in (16, 32, 64)[:len(radii)]] == radii
    assert lattice_r2(16, 64) > 200


@pytest.mark.parametrize("d, r2", [(3, 2), (8, 5), (32, 8), (24, 79)])
def test_point_counts_agree_with_faiss(d, r2):
    assert 2 ** sphere_bits(d, r2) == pytest.approx(float(faiss.ZnSphereCodec(d, r2).nv), rel=1e-9)


def test_sphere_code_decodes_to_the_nearest_lattice_point(rng):
    d, r2 = 3, 2
    codec = LatticeCodec(d, 4)  # S(3, 2) has 12 points: 4 bits
    assert (codec.kind, codec.r2, codec.code_bits, codec.code_bytes) == ("sphere", 2, 4, 1)
    pts = np.array([p for p in itertools.product(range(-2, 3), repeat=d) if sum(v * v for v in p) == r2], float)
    assert len(pts) == 12
    X = rng.standard_normal((200, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = codec.decode(codec.encode(X))
    np.testing.assert_allclose(np.linalg.norm(Y, axis=1), 1.0, atol=1e-6)
    best = pts[np.argmax(X @ pts.T, axis=1)] / math.sqrt(r2)  # brute force: the closest direction
    np.testing.assert_allclose(Y, best, atol=1e-6)


def test_product_code_beyond_one_sphere(rng):
    codec = LatticeCodec(96, 64)
    assert codec.kind == "product" and codec.nsq >= 2 and codec.code_bits <= 64 and codec.code_bytes <= 8
    X = rng.standard_normal((300, 96)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = codec.fit(X).decode(codec.encode(X))
    cos = (X * Y).sum(1) / np.linalg.norm(Y, axis=1)
    assert cos.mean() > 0.5  # 64 bits for 96 dimensions: coarse, but the direction survives
    with pytest.raises(ValueError, match="bits=2 is too few"):
        LatticeCodec(32, 2)


def test_pipeline_recall_grows_with_bits_and_rows_are_complete(small):
    rows = [evaluate_lattice(small, b, "pca", n_components=8, n_single=5) for b in (8, 24)]
    assert rows[0]["1-R@10"] < rows[1]["1-R@10"]
    r = rows[1]
    assert r["index"] == "Lattice24" and r["pipeline"] == "pca-8 Lattice24" and r["code_bits"] <= 24
    assert r["index_bytes"] == small.nb * 3 and r["cr"] == pytest.approx(small.nb * small.d * 4 / r["index_bytes"])
    assert {"1-R@1", "1-R@10", "10-R@10", "qps", "reducer_fit_time_s"} <= set(r)


def test_pipeline_search_and_errors(small):
    pipe = LatticePipeline(16, "pca", n_components=8)
    with pytest.raises(NotFittedError, match="this LatticePipeline is not fitted yet"):
        pipe.search(small.xq, 5)
    D, I = pipe.fit(small.xb).search(small.xq, 5)
    assert I.shape == (small.nq, 5) and I.dtype == np.int64 and (np.diff(D, axis=1) >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(pipe.reduce(small.xq), axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="dimension mismatch"):
        pipe.search(small.xq[:, :10], 5)


def test_one_reduction_coded_at_several_budgets(small):
    from rae_explore.index.pipeline import fit_reduction

    red = fit_reduction(small.xb, None, "pca", 8, None, 0)
    a = LatticePipeline(8, red).fit(small.xb)
    b = LatticePipeline(24, red).fit(small.xb)
    assert a.reducer_ is b.reducer_ is red.reducer and a.code_bits_ <= 8 < b.code_bits_ <= 24
    with pytest.raises(ValueError, match="reduced 600 base vectors but xb has 100"):
        LatticePipeline(8, red).fit(small.xb[:100])


@pytest.mark.parametrize("name, bits", [("Lattice64", 64), ("lattice 16", 16), ("Flat", None), ("IVF64,PQ8", None),
                                        (None, None)])
def test_lattice_names_among_index_strings(name, bits):
    assert lattice_bits(name) == bits


def test_lattice_name_with_zero_bits_is_refused():
    with pytest.raises(ValueError, match="Lattice index must be"):
        lattice_bits("Lattice0")
