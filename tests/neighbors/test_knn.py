"""Exact k-NN against a numpy brute force, blocked and memory-mapped, with self-exclusion."""

import numpy as np
import pytest

from rae_explore.data import formats
from rae_explore.neighbors.knn import ground_truth, knn_search


def brute(xq, xb, k, metric):
    xq, xb = xq.astype(np.float64), xb.astype(np.float64)
    if metric == "cosine":
        xq = xq / np.linalg.norm(xq, axis=1, keepdims=True)
        xb = xb / np.linalg.norm(xb, axis=1, keepdims=True)
    if metric == "l2":
        s = ((xq[:, None, :] - xb[None]) ** 2).sum(-1)
    else:
        s = -(xq @ xb.T)
    I = np.argsort(s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, I, 1), I


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("block_bytes", [None, 16 * 4 * 97])  # one block / many blocks, last one partial
def test_matches_numpy_brute_force(rng, metric, block_bytes):
    xb = rng.standard_normal((1000, 16)).astype(np.float32)
    xq = rng.standard_normal((40, 16)).astype(np.float32)
    kw = {} if block_bytes is None else {"block_bytes": block_bytes}
    D, I = knn_search(xq, xb, 10, metric, **kw)
    Dref, Iref = brute(xq, xb, 10, metric)
    assert D.dtype == np.float32 and I.dtype == np.int64 and I.shape == (40, 10)
    np.testing.assert_array_equal(I, Iref)
    sign = 1 if metric == "l2" else -1
    np.testing.assert_allclose(D, sign * Dref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(ground_truth(xq, xb, 10, metric, **kw), Iref)


def test_memory_mapped_uint8_base_in_blocks(tmp_path, rng):
    xb = rng.integers(0, 192, size=(2000, 32)).astype(np.uint8)
    formats.write_vecs(tmp_path / "b.bvecs", xb)
    mm = formats.mmap_vecs(tmp_path / "b.bvecs")
    xq = rng.integers(0, 192, size=(25, 32)).astype(np.float32)
    D, I = knn_search(xq, mm, 5, "l2", block_bytes=32 * 4 * 300)
    Dref, _ = brute(xq, xb, 5, "l2")
    # integer data has ties: compare distances, and ids through their distances
    np.testing.assert_allclose(D, Dref, rtol=0, atol=0.5)
    d_of_ids = ((xq[:, None, :] - xb[I].astype(np.float32)) ** 2).sum(-1)
    np.testing.assert_allclose(d_of_ids, Dref, atol=0.5)


def test_self_search_excludes_own_id_even_with_duplicates(rng):
    """Every vector appears 3 times: the self match need not come first, yet it is removed."""
    base = rng.standard_normal((50, 8)).astype(np.float32)
    x = np.repeat(base, 3, axis=0)
    D, I = knn_search(x, x, 4, exclude_self=True)
    assert not (I == np.arange(150)[:, None]).any()
    # the two other copies are the two nearest, at distance 0
    twins = np.sort(I[:, :2], axis=1)
    own = np.arange(150)[:, None] // 3 * 3 + np.arange(3)
    for i in range(150):
        assert set(twins[i]) == set(own[i]) - {i}
    np.testing.assert_array_equal(D[:, :2], 0)
    # blocked path gives the same
    _, I2 = knn_search(x, x, 4, exclude_self=True, block_bytes=8 * 4 * 16)
    np.testing.assert_array_equal(np.sort(I2[:, :2], 1), twins)


def test_self_search_without_duplicates_equals_dropping_first(rng):
    x = rng.standard_normal((300, 6)).astype(np.float32)
    _, I = knn_search(x, x, 5, exclude_self=True)
    _, Iref = brute(x, x, 6, "l2")
    np.testing.assert_array_equal(I, Iref[:, 1:])


def test_errors_are_clear(rng):
    xb = rng.standard_normal((20, 4)).astype(np.float32)
    xq = rng.standard_normal((3, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="k=21 is larger than the number of base vectors \\(20\\)"):
        knn_search(xq, xb, 21)
    with pytest.raises(ValueError, match="k=20 is larger than the number of other base vectors"):
        knn_search(xb, xb, 20, exclude_self=True)
    with pytest.raises(ValueError, match="dimension mismatch: xq has 5 columns but xb has 4"):
        knn_search(rng.standard_normal((3, 5)), xb, 2)
    bad = xb.copy()
    bad[13, 2] = np.nan
    with pytest.raises(ValueError, match="xb contains NaN or inf .* first at row 13"):
        knn_search(xq, bad, 2)
    with pytest.raises(ValueError, match="xb contains NaN or inf .* first at row 13"):
        knn_search(xq, bad, 2, block_bytes=4 * 4 * 5)  # row offset kept across blocks
    badq = xq.copy()
    badq[1, 0] = np.inf
    with pytest.raises(ValueError, match="xq contains NaN or inf"):
        knn_search(badq, xb, 2)
    with pytest.raises(ValueError, match="metric must be one of"):
        knn_search(xq, xb, 2, metric="hamming")
    zero = xb.copy()
    zero[7] = 0
    with pytest.raises(ValueError, match="row 7 is the zero vector"):
        knn_search(xq, zero, 2, metric="cosine")
    with pytest.raises(ValueError, match="2-d array"):
        knn_search(xq[0], xb, 2)
    with pytest.raises(TypeError, match="k must be an integer"):
        knn_search(xq, xb, 2.0)


def test_sift5k_ground_truth_against_independent_computation(sift5k):
    """faiss ground truth on sift5k agrees with an exact float64 computation from the .tsv file."""
    from rae_explore.paths import DATA_DIR

    tsv = np.loadtxt(DATA_DIR / "sift5k" / "sift-dataset-5k.tsv", delimiter="\t")[:, :128]
    xb = tsv[sift5k.meta["base_ids"]]
    xq = tsv[sift5k.meta["query_ids"]][:100]
    gt = sift5k.with_ground_truth(10).gt[:100]
    # exact integer distances in float64 (no rounding possible at these magnitudes)
    d2 = (xq ** 2).sum(1)[:, None] + (xb ** 2).sum(1)[None] - 2 * xq @ xb.T
    kth = np.sort(d2, axis=1)[:, :10]
    got = np.take_along_axis(d2, gt, 1)
    np.testing.assert_array_equal(got, kth)  # same distances, rank by rank (robust to ties)
    assert (got[:, 9] < np.sort(d2, axis=1)[:, 10]).mean() > 0.9  # mostly no tie at the boundary


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_pair_distances_are_what_the_search_reports(rng, metric):
    from rae_explore.neighbors.knn import pair_distances

    xb = rng.standard_normal((300, 8)).astype(np.float32)
    xq = rng.standard_normal((25, 8)).astype(np.float32)
    D, I = knn_search(xq, xb, 7, metric)
    np.testing.assert_allclose(pair_distances(xq, xb, I, metric, query_rows=4), D, rtol=1e-4, atol=1e-4)
    I2 = I.copy()
    I2[0, -1] = -1
    assert pair_distances(xq, xb, I2, metric)[0, -1] == (np.inf if metric == "l2" else -np.inf)
    with pytest.raises(ValueError, match="I must have shape"):
        pair_distances(xq, xb, I[:3], metric)


def test_block_rows_depend_on_shapes_not_threads():
    from rae_explore.neighbors.knn import MIN_BLOCK_ROWS, SPLIT, block_rows

    # a large base: SPLIT blocks, capped by the bytes of one block
    assert block_rows(10_000, 1_000_000, 128)[0] == 1_000_000 // SPLIT
    assert block_rows(10_000, 10_000_000, 128, block_bytes=64 * 2**20) == (131072, 131072)
    # a small base is one block and its queries are cut instead
    base_rows, query_rows = block_rows(100_000, 3_000, 32)
    assert base_rows >= 3_000 and query_rows == 100_000 // SPLIT
    assert block_rows(50, 3_000, 32) == (MIN_BLOCK_ROWS, MIN_BLOCK_ROWS)


@pytest.mark.parametrize("nq, nb", [(300, 40_000), (20_000, 3_000)])  # base blocks / query blocks in parallel
def test_parallel_search_equals_one_thread_bit_for_bit(rng, monkeypatch, nq, nb):
    """Blocks run on several threads, each faiss call single-threaded: the result does not depend
    on how many threads ran it, and several threads did work."""
    import threading

    import faiss

    from rae_explore.neighbors import knn as knn_mod
    from rae_explore.threads import limit_threads

    xb = rng.standard_normal((nb, 24)).astype(np.float32)
    xq = rng.standard_normal((nq, 24)).astype(np.float32)
    seen = []
    real_knn = faiss.knn

    def spy(*a, **kw):
        seen.append((threading.current_thread().name, faiss.omp_get_max_threads()))
        return real_knn(*a, **kw)

    monkeypatch.setattr(knn_mod.faiss, "knn", spy)
    with limit_threads(faiss=1):
        D1, I1 = knn_search(xq, xb, 7)
    one = set(seen)
    seen.clear()
    with limit_threads(faiss=3):
        D3, I3 = knn_search(xq, xb, 7)
    assert one == {(threading.current_thread().name, 1)}
    names = {name for name, _ in seen}
    assert len(names) >= 2 and all(n.startswith("knn") for n in names) and {n for _, n in seen} == {1}
    np.testing.assert_array_equal(I1, I3)
    np.testing.assert_array_equal(D1, D3)
    Dref, Iref = brute(xq[:50], xb, 7, "l2")
    np.testing.assert_array_equal(I1[:50], Iref)
