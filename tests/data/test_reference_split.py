"""The reference's split, re-derived with the global ``random`` module exactly as its data_utils.py does."""

import random

import numpy as np
import pytest

from rae_explore.data.reference_split import reference_split


def _reference(n, seed, num_samples, sample):
    """code/data_utils.py: random.seed(seed); [random.sample]; random.shuffle(ids); 90 % train."""
    state = random.getstate()
    try:
        random.seed(seed)
        kept = min(num_samples, n)
        rows = random.sample(range(n), kept) if sample else list(range(kept))
        ids = list(range(kept))
        random.shuffle(ids)
        cut = int(kept * (1 - 0.1))
        return [rows[i] for i in ids[:cut]], [rows[i] for i in ids[cut:]]
    finally:
        random.setstate(state)


@pytest.mark.parametrize("sampling", ["head", "sample"])
def test_reference_split_is_the_reference_row_for_row(sampling):
    b, q = reference_split(1000, 42, 700, sampling=sampling)
    rb, rq = _reference(1000, 42, 700, sampling == "sample")
    assert b.tolist() == rb and q.tolist() == rq
    assert len(b) == 630 and len(q) == 70 and not set(b) & set(q)


def test_reference_split_leaves_the_global_random_state_alone():
    random.seed(1)
    before = random.random()
    random.seed(1)
    reference_split(100, 7)
    assert random.random() == before


def test_load_dataset_reference_split_gives_the_reference_rows():
    from rae_explore.data.datasets import load_dataset

    full = load_dataset("sift5k", n_base=4999, n_query=1, seed=0)
    X = np.concatenate([full.xb, full.xq])[np.argsort(np.concatenate([full.meta["base_ids"], full.meta["query_ids"]]))]
    ds = load_dataset("sift5k", split="reference", seed=42, n_samples=2000)
    rb, rq = _reference(5000, 42, 2000, False)
    np.testing.assert_array_equal(ds.xb, X[rb])
    np.testing.assert_array_equal(ds.xq, X[rq])
    assert ds.meta["split"] == "reference"
    with pytest.raises(ValueError, match="split must be 'random' or 'reference'"):
        load_dataset("sift5k", split="python")
    with pytest.raises(ValueError, match="not n_base/n_query"):
        load_dataset("sift5k", split="reference", n_base=100)
    with pytest.raises(ValueError, match="sampling must be one of"):
        reference_split(10, 0, sampling="tail")
