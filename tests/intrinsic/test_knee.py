"""Loss knee (Kneedle), recall knee, and recommend_dim's side-by-side table."""

import pytest

from rae_explore.data.datasets import load_dataset
from rae_explore.intrinsic.knee import dims_grid, find_knee, loss_curve, loss_knees


def test_dims_grid_is_log_ish_from_d_down_to_2():
    assert dims_grid(128) == [128, 96, 64, 48, 32, 24, 16, 12, 8, 6, 4, 3, 2]
    assert dims_grid(50) == [50, 48, 32, 24, 16, 12, 8, 6, 4, 3, 2]
    assert dims_grid(3) == [3, 2]
    assert dims_grid(1) == [1]
    with pytest.raises(ValueError, match="positive integer"):
        dims_grid(0)


def test_find_knee_on_a_hinge():
    dims = dims_grid(128)
    # loss falls steeply down to 16 dimensions, then barely moves
    loss = [max(0.0, (16 - m) / 16) + 0.001 * (128 - m) / 128 for m in dims]
    assert find_knee(dims, loss) == 16
    assert find_knee(dims[::-1], loss[::-1]) == 16  # order does not matter
    assert find_knee([2, 4], [1.0, 0.5]) is None     # too few points
    assert find_knee(dims, [1.0] * len(dims)) is None  # flat: no knee
    with pytest.raises(ValueError, match="same length"):
        find_knee([1, 2, 3], [1.0, 2.0])


def test_loss_curve_finds_the_linear_subspace(near8):
    c = loss_curve(near8.xb, near8.xq, dims=[32, 16, 12, 8, 6, 4, 2], kinds=("linear",), steps=600)
    assert list(c.columns) == ["kind", "n_components", "train_loss", "test_loss", "train_fvu", "test_fvu",
                               "epochs", "seconds"]
    fvu = c.set_index("n_components")["test_fvu"]
    assert fvu[8] < 0.01 < fvu[6] < fvu[4] < fvu[2]  # 8 dimensions hold the data
    assert loss_knees(c) == {"linear": 8}


@pytest.mark.slow
def test_paper_synthetic_loss_knee():
    """The autoencoder paper's synthetic check, with the small autoencoders here.

    BenchmarkManifolds' M6_Nonlinear places an ID-``m`` manifold in a ``2m``-dimensional linear
    span (each latent coordinate gives a cos and a sin column); small autoencoders find that
    span, so the knee sits between the true ID and twice it (and at the end of the grid, or
    nowhere, for ID 64 in 128-d). A broken pipeline (loss not decreasing, wrong axis, no
    training) lands elsewhere.
    """
    dims = [4, 8, 12, 16, 24, 32, 48, 64, 96, 128]
    knees = {}
    for true_id in (8, 32, 64):
        ds = load_dataset(f"manifold-id{true_id}-in128", n_samples=2000, seed=0)
        kinds = ("mlp",) if true_id == 8 else ("linear",)
        c = loss_curve(ds.xb, ds.xq, dims=dims, kinds=kinds, steps=300)
        knees[true_id] = loss_knees(c)[kinds[0]]
        fvu = c.set_index("n_components")["test_fvu"]
        assert fvu[4] > fvu[min(128, 2 * true_id)] + 0.3, fvu  # the loss rises below the ID
    assert 8 <= knees[8] <= 16 and 32 <= knees[32] <= 64
    assert knees[64] is None or knees[64] >= 64
