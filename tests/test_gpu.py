"""The torch paths on CUDA: RAE, fit_torch, train_autoencoder, the four autoencoders, device resolution.

Every CUDA test is marked ``gpu`` and skipped where CUDA is absent (deselect them with
``-m 'not gpu'``). They are small (seconds) and compare against the CPU within a tolerance,
not bitwise: CUDA kernels sum in a different order. The intrinsic-dimension fast path
(``rae_explore.intrinsic.fast_paths``) uses torch on the CPU only (no device argument), so
it has no test here. One CPU test checks the error for ``device="cuda"`` without CUDA.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

HAS_CUDA = torch.cuda.is_available()


def _data(n=300, d=32, seed=0):
    """Low-rank-ish float32 data, so that a few components hold most of the variance."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((8, d))
    X = rng.standard_normal((n, 8)) @ basis + 0.05 * rng.standard_normal((n, d))
    return X.astype(np.float32)


def _knn(Z, k):
    from rae_explore.neighbors.knn import knn_search

    return knn_search(Z, Z, k, "l2", exclude_self=True)[1]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_rae_adam_on_cuda_matches_the_cpu_fit(bias):
    from rae_explore.neighbors.metrics import top_k_accuracy
    from rae_explore.reducers.rae import RAE

    X = _data()
    kw = dict(alpha=1e-4, bias=bias, solver="adam", steps=200, lr=1e-2, batch_size=64, random_state=0)
    cpu = RAE(8, device="cpu", **kw).fit(X)
    gpu = RAE(8, device="cuda", **kw).fit(X)
    assert gpu.device_ == "cuda" and cpu.device_ == "cpu"
    assert gpu.n_iter_ == cpu.n_iter_ == 200
    # same seed: same initial weights and batch order, so the training curves agree closely
    l_cpu, l_gpu = cpu.history_[-1]["loss"], gpu.history_[-1]["loss"]
    assert l_gpu == pytest.approx(l_cpu, rel=0.05)
    assert gpu.history_[-1]["loss"] < gpu.history_[0]["loss"]
    Z_cpu, Z_gpu = cpu.transform(X), gpu.transform(X)
    assert Z_gpu.dtype == np.float32 and np.isfinite(Z_gpu).all()
    # the reduced spaces keep (nearly) the same neighbours
    k = 10
    assert top_k_accuracy(_knn(Z_cpu, k), _knn(Z_gpu, k), k) > 0.9


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_fit_torch_on_cuda_lowers_the_loss():
    from rae_explore.reducers.neural.training import fit_torch, seeded

    X = _data()
    with seeded(0):
        model = torch.nn.Sequential(torch.nn.Linear(32, 4), torch.nn.Linear(4, 32)).to("cuda")

    def loss_fn(m, xb):
        assert xb.is_cuda
        return torch.nn.functional.mse_loss(m(xb), xb)

    hist = fit_torch(model, loss_fn, X, max_epochs=20, batch_size=64, lr=1e-2, X_val=X[:50], random_state=0,
                     device="cuda")
    assert len(hist) == 20 and all(np.isfinite(h["loss"]) for h in hist)
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]
    assert all(p.is_cuda for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_resolve_device_auto_is_cuda_when_available():
    from rae_explore.reducers.neural.training import resolve_device

    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda" and resolve_device("cuda:0") == "cuda:0"
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("kind", ["linear", "mlp"])
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_train_autoencoder_on_cuda(kind):
    from rae_explore.reducers.neural.autoencoders import train_autoencoder

    X = _data()
    kw = dict(X_test=X[:60], kind=kind, hidden=(32,), max_epochs=15, batch_size=64, lr=1e-2, random_state=0)
    gpu = train_autoencoder(X, 8, device="cuda", **kw)
    cpu = train_autoencoder(X, 8, device="cpu", **kw)
    assert next(gpu.model.parameters()).is_cuda
    assert np.isfinite(gpu.train_loss) and np.isfinite(gpu.test_loss)
    assert gpu.history[-1]["loss"] < gpu.history[0]["loss"]
    assert gpu.train_fvu < 0.5  # the data are nearly rank 8
    assert gpu.train_loss == pytest.approx(cpu.train_loss, rel=0.1)


@pytest.mark.parametrize("name", ["vanilla_ae", "dcec", "hyperae", "nrae"])
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_neural_reducers_on_cuda(name):
    from rae_explore.neighbors.metrics import top_k_accuracy
    from rae_explore.reducers import make_reducer

    X = _data(n=400)
    kw = dict(n_components=8, hidden=64, max_epochs=20, batch_size=64, lr=3e-3, random_state=0)
    auto = make_reducer(name, **kw)  # device="auto" picks CUDA
    gpu = auto.fit(X)
    cpu = make_reducer(name, device="cpu", **kw).fit(X)
    assert gpu.device_ == "cuda" and next(gpu.module_.parameters()).is_cuda
    Z_gpu, Z_cpu = gpu.transform(X), cpu.transform(X)
    assert Z_gpu.dtype == np.float32 and np.isfinite(Z_gpu).all()
    assert gpu.history_[-1]["loss"] < gpu.history_[0]["loss"]
    assert gpu.history_[-1]["loss"] == pytest.approx(cpu.history_[-1]["loss"], rel=0.2)
    # training on CUDA rounds differently, so compare quality, not codes: the same neighbours kept
    gt = _knn(X, 10)
    acc_gpu, acc_cpu = top_k_accuracy(gt, _knn(Z_gpu, 10), 10), top_k_accuracy(gt, _knn(Z_cpu, 10), 10)
    assert acc_gpu > 0.3 and abs(acc_gpu - acc_cpu) < 0.15


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is present: the error is for machines without it")
def test_resolve_device_cuda_without_cuda_is_a_clear_error():
    from rae_explore.reducers.neural.training import resolve_device

    with pytest.raises(ValueError, match="CUDA is not available.*device='cpu' or 'auto'"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")
    assert resolve_device("auto") == "cpu"
