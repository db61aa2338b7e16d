"""Shared fixtures: tiny seeded datasets (the suite must stay fast on 2 CPU cores)."""

import numpy as np
import pytest

from rae_explore.data.datasets import load_dataset
from rae_explore.data.synthetic import synthetic


@pytest.fixture(scope="session")
def tiny():
    """Synthetic 32-d data near an 8-d subspace: 600 base, 50 queries, float32."""
    return synthetic(d=32, nb=600, nq=50, intrinsic_dim=8, seed=0)


@pytest.fixture(scope="session")
def sift5k():
    """The bundled real SIFT set, seeded 90/10 split (4,500 base, 500 queries)."""
    return load_dataset("sift5k", seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def danco_cache(tmp_path_factory, monkeypatch):
    """An empty DANCo calibration cache made estimate_id's default, instead of the repository's data/cache:
    each run computes its calibration fresh, and cache tests see only what they wrote."""
    from rae_explore.intrinsic import budget, estimate

    path = tmp_path_factory.mktemp("danco-cache")
    monkeypatch.setitem(estimate.estimate_id.__kwdefaults__, "cache_dir", path)  # the default is bound at def
    monkeypatch.setattr(budget, "DANCO_CACHE_DIR", path)
    monkeypatch.setattr(budget, "BUNDLED_DANCO_DIR", path / "bundled-none")  # nor the repository's bundled ones
    monkeypatch.setattr(estimate, "DANCO_CACHE_DIR", path)
    return path


@pytest.fixture(scope="module")
def near8():
    """32-d data near an 8-d subspace (noise 0.01): 600 base, 100 queries."""
    return synthetic(d=32, nb=600, nq=100, intrinsic_dim=8, seed=1)


@pytest.fixture(scope="module")
def small():
    """600 x 32 l2 data near an 8-d subspace, 50 queries, ground truth k=100."""
    return synthetic(d=32, nb=600, nq=50, intrinsic_dim=8, seed=0).with_ground_truth(100)
