"""Loss knee (Kneedle), recall knee, and recommend_dim's side-by-side table."""

import pandas as pd
import pytest

from rae_explore.experiments.recommend import VIEWS, recall_curve, recall_knee, recommend_dim


def test_recall_knee_needs_the_accuracy_to_stay_above_target():
    curve = pd.DataFrame({"n_components": [64, 48, 32, 24, 16, 8],
                          "top_k": [1.0, 0.97, 0.95, 0.85, 0.92, 0.5]})
    assert recall_knee(curve, 0.9) == 32    # 16 reaches 0.92 but 24 dips below: not "stays"
    assert recall_knee(curve, 0.8) == 16
    assert recall_knee(curve, 1.0) == 64
    with pytest.raises(ValueError, match="target must be in"):
        recall_knee(curve, 1.5)


def test_recall_curve_with_pca_and_its_knee(near8):
    c = recall_curve(near8, k=10, dims=[16, 8, 6, 4, 2])
    assert list(c["n_components"]) == [32, 16, 8, 6, 4, 2] and c.attrs["k"] == 10
    assert c["top_k"].iloc[0] == pytest.approx(1.0)  # full dimension: a rotation keeps every neighbour
    assert c["top_k"].iloc[1] > 0.95 and c["top_k"].iloc[-1] < 0.6
    assert recall_knee(c, 0.9) == 8


def test_recommend_dim_side_by_side(near8):
    t = recommend_dim(near8, target=0.9, k=10, estimators=["MLE", "TwoNN", "lPCA"], kinds=("linear",),
                      dims=[32, 16, 12, 8, 6, 4, 2], ae_kwargs={"steps": 600})
    assert list(t.columns) == ["view", "method", "dimension", "status", "detail"]
    assert list(t["view"]) == [VIEWS[0]] * 3 + [VIEWS[1], VIEWS[2]]
    assert list(t["method"]) == ["MLE", "TwoNN", "lPCA", "linear AE", "pca top-10 >= 0.9 x full"]
    assert (t["status"] == "ok").all()
    d = t.set_index("method")["dimension"]
    assert d["lPCA"] == 8 and d["linear AE"] == 8 and d["pca top-10 >= 0.9 x full"] == 8
    assert 5 <= d["MLE"] <= 10 and 5 <= d["TwoNN"] <= 10
    assert set(t.attrs) >= {"id_table", "loss_curve", "recall_curve"}


def test_recommend_dim_views_can_be_skipped(near8):
    t = recommend_dim(near8, estimators=(), kinds=(), reducer="pca", dims=[8, 4])
    assert list(t["view"]) == [VIEWS[2]]
    with pytest.raises(TypeError, match="Dataset or a dataset name"):
        recommend_dim(near8.xb)
