"""rae_explore.threads: one context manager sets torch, faiss and BLAS threads and restores them."""

import os

import pytest

from rae_explore.threads import THREAD_ENV_VARS, idle_threads, limit_threads, share_cores


def test_limit_threads_sets_and_restores_every_library():
    faiss = pytest.importorskip("faiss")
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"}

    before = torch.get_num_threads(), faiss.omp_get_max_threads(), blas()
    with limit_threads(torch=1, faiss=1, blas=1) as got:
        assert got == {"torch": 1, "faiss": 1, "blas": 1}
        assert torch.get_num_threads() == 1 and faiss.omp_get_max_threads() == 1
        assert all(n == 1 for path, n in blas().items() if "faiss" not in path)
    assert (torch.get_num_threads(), faiss.omp_get_max_threads(), blas()) == before


def test_limit_threads_restores_after_an_exception_and_leaves_unset_libraries_alone():
    faiss = pytest.importorskip("faiss")
    old = faiss.omp_get_max_threads()
    with pytest.raises(RuntimeError), limit_threads(faiss=1):
        raise RuntimeError("boom")
    assert faiss.omp_get_max_threads() == old
    with limit_threads() as got:
        assert got == {}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "many"])
def test_limit_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="thread count"), limit_threads(faiss=bad):
        pass


def test_idle_threads_is_between_one_and_the_maximum():
    assert 1 <= idle_threads(2) <= 2
    assert idle_threads(1) == 1


def test_share_cores_sizes_child_pools_and_keeps_user_settings(monkeypatch):
    for var in THREAD_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")
    share_cores(os.cpu_count() or 1)
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "7"
