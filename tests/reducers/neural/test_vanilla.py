"""Vanilla AE: reconstruction training on the shared trainer."""

import numpy as np
import pytest

from rae_explore.reducers import REDUCERS
from rae_explore.reducers.neural.vanilla import VanillaAE


def test_registered_and_learns_low_rank_data(near8):
    assert REDUCERS["vanilla_ae"] is VanillaAE
    X = near8.xb
    ae = VanillaAE(8, hidden=64, max_epochs=60, lr=3e-3, batch_size=64, random_state=0, device="cpu").fit(X)
    h = ae.history_
    assert h[-1]["loss"] < 0.2 * h[0]["loss"]
    R = ae.inverse_transform(ae.transform(near8.xq))
    fvu = ((R - near8.xq) ** 2).mean() / near8.xq.var(0).mean()
    assert fvu < 0.1  # 8-d codes of data near an 8-d subspace


def test_parameters_follow_the_style(X):
    ae = VanillaAE(4)
    assert ae.get_params()["device"] == "auto" and ae.get_params()["random_state"] is None
    with pytest.raises(TypeError):
        VanillaAE(4, 256)  # everything after n_components is keyword-only
    Z = VanillaAE(4, max_epochs=1, hidden=8, device="cpu", random_state=0).fit_transform(X)
    assert Z.dtype == np.float32 and Z.shape == (len(X), 4)
