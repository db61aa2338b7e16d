"""CCST: shapes, the compression token, gradient flow to every projection, INRP training, seeds, errors."""

import numpy as np
import pytest
import torch

from rae_explore.reducers import REDUCERS, make_reducer
from rae_explore.reducers.neural.ccst import CCST, ccst_net
from rae_explore.reducers.neural.losses import inrp_loss

FAST = {"n_projections": 4, "depth": 1, "batch_size": 64, "device": "cpu"}


@pytest.fixture(scope="module")
def X(tiny):
    return tiny.xb[:300]


def _net(**kw):
    torch.manual_seed(0)
    return ccst_net(32, 8, **dict({"n_projections": 5, "depth": 2, "heads": 4, "expansion": 2}, **kw))


def test_shapes_and_the_reduced_attention():
    net = _net()
    x = torch.randn(16, 32)
    assert net.tokens(net.prep(x)).shape == (16, 1 + 5, 8)
    assert net.encode(x).shape == (16, 8)
    attn = net.attention[0]
    # queries/keys of 8 // 4 = 2 dims per head, values of expansion * 8 / heads = 4 dims per head
    assert (attn.kq, attn.v) == (2, 4) and attn.qkv.out_features == 4 * (2 * 2 + 4)
    assert attn.qkv.out_features < 3 * 4 * 8  # a standard module: 3 heads x d_out per head
    assert attn.pos_bias.shape == (4, 6, 6)


def test_the_token_starts_from_the_input_and_is_the_output():
    net = _net().eval()
    x = torch.randn(10, 32)
    t = net.tokens(net.prep(x))
    assert not torch.allclose(t[0, 0], t[1, 0])  # initialised from each input, not one shared vector
    with torch.no_grad():
        z = net.encode(x)
        # the output is the processed token (position 0): in the last block, how the other tokens
        # attend changes nothing, how the token attends to them does
        bias = net.attention[-1].pos_bias
        bias[:, 1:, :] += 5 * torch.randn_like(bias[:, 1:, :])
        np.testing.assert_allclose(net.encode(x).numpy(), z.numpy(), rtol=1e-5, atol=1e-5)
        bias[0, 0, :] += 5 * torch.randn_like(bias[0, 0, :])
        assert not np.allclose(net.encode(x).numpy(), z.numpy(), atol=1e-3)


def test_gradient_reaches_every_projection_and_the_token():
    net = _net()
    x = torch.randn(32, 32)
    xs = net.prep(x)
    inrp_loss(net.encode_std(xs), xs, 8.0).backward()
    g = net.projections.weight.grad.reshape(5, 8, 32)
    assert (g.flatten(1).norm(dim=1) > 0).all()  # each W_i
    for p in (net.token_init.weight, net.skip.weight, net.out.weight, net.attention[1].pos_bias):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_fit_learns_and_is_reproducible(X, tiny):
    assert REDUCERS["ccst"] is CCST and isinstance(make_reducer("ccst", n_components=4), CCST)
    a = CCST(8, max_epochs=6, lr=3e-3, random_state=0, **FAST).fit(X)
    h = a.history_
    assert h[-1]["loss"] < 0.5 * h[0]["loss"] and "val_loss" in h[0]
    # the boundary: mean pairwise distance of the standardised training rows
    mod = a.module_
    assert a.boundary_ == pytest.approx(float(torch.pdist(mod.prep(torch.as_tensor(X))).mean()), rel=0.05)
    Z = a.transform(tiny.xq)
    assert Z.shape == (tiny.nq, 8) and Z.dtype == np.float32
    np.testing.assert_array_equal(Z, CCST(8, max_epochs=6, lr=3e-3, random_state=0, **FAST).fit(X).transform(tiny.xq))
    assert not np.allclose(Z, CCST(8, max_epochs=2, random_state=1, **FAST).fit(X).transform(tiny.xq))


@pytest.mark.parametrize("params, match", [
    ({"expansion": 4, "heads": 4}, r"expansion must be an integer in \[1, heads - 1 = 3\]"),
    ({"heads": 1}, "heads must be >= 2"),
    ({"n_projections": 0}, "n_projections must be an integer >= 1"),
    ({"inrp_beta": 3.0}, "inrp_beta must be <= 2.0"),
    ({"batch_size": 1}, "batch_size must be an integer >= 2"),
])
def test_bad_parameters_are_named(X, params, match):
    with pytest.raises(ValueError, match=match):
        CCST(4, **dict(FAST, **params)).fit(X[:50])
    with pytest.raises(NotImplementedError, match="no decoder"):
        CCST(4).inverse_transform(np.zeros((1, 4), np.float32))
