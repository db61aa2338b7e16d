"""Figure builders: the right traces, and sliders/dropdowns whose steps show the right ones."""

import base64
import json
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from rae_explore.report import plots


def _sweep_rows():
    rows = []
    for m, base in (("pca", 0.5), ("rp", 0.3), ("rae", 0.55)):
        for dim in (4, 8, 16):
            rows.append({"method": m, "n_components": dim, "top_k@1": base * dim / 16, "top_k@10": base * dim / 20,
                         "1-R@10": min(1.0, base * dim / 10), "fit_s": 0.01 * dim, "transform_s": 0.001 * dim})
    return pd.DataFrame(rows)


def _visible(fig, mask):
    return [i for i, v in enumerate(mask) if v]


def test_metric_columns_and_labels():
    df = pd.DataFrame(columns=["method", "top_k@10", "1-R@100", "top_k@5", "1-R@10", "fit_s", "10-R@10"])
    assert plots.metric_columns(df) == ["top_k@5", "top_k@10", "1-R@10", "1-R@100", "10-R@10"]
    assert plots.metric_label("top_k@10") == "top-10 accuracy"
    assert plots.metric_label("1-R@10") == "1-recall@10"


def test_recall_curves_dropdown_switches_metric_and_keeps_id_lines():
    df = _sweep_rows()
    fig = plots.recall_curves(df, id_lines={"MLE": 9.5, "TwoNN": 7.0, "broken": float("nan")}, d=128)
    assert isinstance(fig, go.Figure)
    n_metric = 3  # top_k@1, top_k@10, 1-R@10
    assert len(fig.data) == n_metric * 3 + 2  # a line per (metric, method) + two finite ID lines
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["metric: top-1 accuracy", "metric: top-10 accuracy",
                                               "metric: 1-recall@10"]
    for mi, button in enumerate(menu.buttons):
        vis = _visible(fig, button.args[0]["visible"])
        assert vis == [mi * 3, mi * 3 + 1, mi * 3 + 2, 9, 10]  # this metric's 3 methods + the ID lines
        assert button.args[1]["yaxis.title.text"] == plots.metric_label(plots.metric_columns(df)[mi])
    # the initial state is the first button's
    assert [bool(t.visible) for t in fig.data] == menu.buttons[0].args[0]["visible"]
    # y values are the data's, per method
    pca = fig.data[0]
    assert pca.name == "pca" and list(pca.x) == [4, 8, 16]
    np.testing.assert_allclose(pca.y, df[df.method == "pca"]["top_k@1"])
    assert fig.data[9].x == (9.5, 9.5) and "MLE" in fig.data[9].name


def test_recall_curves_errors_name_the_problem():
    with pytest.raises(ValueError, match="no metric columns"):
        plots.recall_curves(pd.DataFrame({"method": ["a"], "n_components": [2]}))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['n_components'\]"):
        plots.recall_curves(pd.DataFrame({"method": ["a"], "top_k@1": [0.5]}))
    with pytest.raises(ValueError, match="no rows"):
        plots.recall_curves(pd.DataFrame(columns=["method", "n_components", "top_k@1"]))
    with pytest.raises(TypeError, match="DataFrame"):
        plots.recall_curves("not a frame")


def test_timings_dropdown_fit_transform_log_axis():
    fig = plots.timings(_sweep_rows())
    assert len(fig.data) == 6 and fig.layout.yaxis.type == "log"
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert labels == ["fit time (s)", "transform time (s)"]
    np.testing.assert_allclose(fig.data[3].y, [0.001 * d for d in (4, 8, 16)])


def test_encoder_spectrum_slider_shows_one_lambda_plus_reference():
    rows = [{"alpha": a, "index": i, "singular_value": (1 - a) ** (i + 1)} for a in (0.0, 0.1, 0.5) for i in range(4)]
    fig = plots.encoder_spectrum(pd.DataFrame(rows), reference={"PCA": np.ones(4)})
    assert len(fig.data) == 4  # reference + 3 lambdas
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["all", "0", "0.1", "0.5"]
    assert _visible(fig, slider.steps[0].args[0]["visible"]) == [0, 1, 2, 3]
    assert _visible(fig, slider.steps[2].args[0]["visible"]) == [0, 2]
    assert list(fig.data[3].x) == [1, 2, 3, 4]  # 0-based index drawn 1-based
    np.testing.assert_allclose(fig.data[3].y, [0.5, 0.25, 0.125, 0.0625])
    assert fig.layout.yaxis.type == "log"


def test_condition_and_accuracy_figures():
    df = pd.DataFrame({"alpha": [0.0, 0.1, 1.0] * 2, "condition_number": [1, 2, 8, 1.5, 30, 900],
                       "top_k@10": [0.5, 0.45, 0.3, 0.5, 0.2, 0.05], "top_k@1": [0.3, 0.2, 0.1, 0.3, 0.1, 0.0],
                       "variant": ["all"] * 3 + ["encoder"] * 3})
    fig = plots.condition_vs_lambda(df)
    assert [t.name for t in fig.data] == ["all", "encoder"]
    assert fig.data[0].x[0] == pytest.approx(0.01)  # lambda = 0 drawn a decade below the smallest positive
    fig = plots.accuracy_vs_condition(df)
    assert len(fig.data) == 4 and [b.label for b in fig.layout.updatemenus[0].buttons] == [
        "metric: top-1 accuracy", "metric: top-10 accuracy"]
    np.testing.assert_allclose(fig.data[2].y, [0.5, 0.45, 0.3])  # top_k@10, variant "all", sorted by kappa


def test_trained_vs_closed_form_slider():
    rows = [{"alpha": a, "index": i, "trained": 0.9 - 0.1 * i, "closed_form": 1 - 0.1 * i}
            for a in (0.1, 1.0) for i in range(3)]
    fig = plots.trained_vs_closed_form(pd.DataFrame(rows))
    assert len(fig.data) == 4
    steps = fig.layout.sliders[0].steps
    assert _visible(fig, steps[1].args[0]["visible"]) == [2, 3]
    zero = [dict(r, alpha=0.0) for r in rows[:3]] + rows[3:]
    fig = plots.trained_vs_closed_form(pd.DataFrame(zero))
    assert fig.layout.sliders[0].active == 1 and [t.visible for t in fig.data] == [False, False, True, True]


def test_weight_norms_slider_opens_on_the_largest_lambda():
    hist = pd.DataFrame([{"alpha": a, "step": s, "encoder_norm": 2 - a * s / 100, "decoder_norm": 6 + a * s / 100}
                         for a in (0.0, 6.0349, 22.93) for s in (10, 50, 100)])
    fig = plots.weight_norms(hist)
    slider = fig.layout.sliders[0]
    assert [st.label for st in slider.steps] == ["0", "6.03", "22.9"] and slider.active == 2
    assert [t.visible for t in fig.data] == [False] * 4 + [True] * 2
    np.testing.assert_allclose(fig.data[5].y, [6 + 22.93 * s / 100 for s in (10, 50, 100)])


def test_local_id_histogram_dropdown_and_knee_and_recommendation():
    rng = np.random.default_rng(0)
    local = {"MLE": rng.normal(10, 2, 300), "TwoNN": rng.normal(8, 2, 300)}
    fig = plots.local_id_histogram(local, global_estimates={"MLE": 9.8})
    assert len(fig.data) == 4 and len(fig.layout.updatemenus[0].buttons) == 2
    assert fig.data[1].x == (9.8, 9.8)
    frame = pd.DataFrame({"estimator": ["a"] * 5, "local_id": [1, 2, 3, 4, np.nan]})
    assert len(plots.local_id_histogram(frame).data[0].x) == 4  # NaN dropped
    wide = pd.DataFrame({"MLE": [1.0, 2.0, 3.0], "TLE": [2.0, 2.5, np.inf]})  # intrinsic_dim.local_id's shape
    fig = plots.local_id_histogram(wide)
    assert [fig.data[0].name, fig.data[2].name] == ["MLE", "TLE"] and len(fig.data[2].x) == 2

    fig = plots.knee_curve([2, 4, 8, 16], [1.0, 0.5, 0.2, 0.19], knee=8, reference={"MLE": 9.0}, log_x=True,
                           hline={"90 %": 0.9})
    assert fig.data[1].x == (8.0, 8.0) and fig.data[1].yaxis == "y2"  # data coordinates, also on a log axis
    assert fig.data[2].x == (9.0, 9.0) and len(fig.layout.shapes) == 1 and fig.layout.shapes[0].y0 == 0.9
    with pytest.raises(ValueError, match="same non-zero length"):
        plots.knee_curve([1, 2], [1.0])

    fig = plots.recommended_dims(pd.DataFrame({"view": ["MLE", "loss knee"], "dim": [12.4, 16]}), d=128)
    assert "10.3x smaller" in fig.data[0].text[0] and "64 B/vector" in fig.data[0].text[1]
    rec = pd.DataFrame({"view": ["id", "id", "knee"], "method": ["MLE", "PH", "linear AE"],
                        "dimension": [12.0, float("nan"), 32.0]})
    fig = plots.recommended_dims(rec, label="method", value="dimension", group="view", d=128)
    assert [t.name for t in fig.data] == ["id", "knee"] and list(fig.data[0].y) == ["MLE"]  # NaN row left out
    assert "4.0x smaller" in fig.data[1].text[0]


def test_loss_curves_marks_each_knee_and_switches_loss():
    curve = pd.DataFrame([{"kind": k, "n_components": m, "test_fvu": 1 / m + (0.1 if k == "mlp" else 0),
                           "train_fvu": 0.9 / m} for k in ("linear", "mlp") for m in (2, 4, 8, 16)])
    fig = plots.loss_curves(curve, knees={"linear": 4, "mlp": None}, id_lines={"MLE": 6.0})
    # test_fvu: linear line + its knee marker + mlp line; the same for train_fvu; + one ID line
    assert len(fig.data) == 7
    marker = fig.data[1]
    assert marker.x == (4,) and marker.y == (0.25,) and "knee" in marker.name
    buttons = fig.layout.updatemenus[0].buttons
    assert len(buttons) == 2 and _visible(fig, buttons[1].args[0]["visible"]) == [3, 4, 5, 6]


def test_table_formats_numbers():
    fig = plots.table(pd.DataFrame({"estimator": ["MLE"], "estimate": [12.3456], "seconds": [float("nan")]}))
    cells = fig.data[0].cells.values
    assert list(cells[1]) == ["12.3"] and list(cells[2]) == ["nan"]
    short = plots.table(pd.DataFrame({"a": ["x"] * 3})).layout.height
    wrapped = plots.table(pd.DataFrame({"a": ["x" * 400] * 3})).layout.height
    assert wrapped > short  # wrapped notes get taller rows instead of being clipped


def test_init_notebook_selects_offline_renderer_once():
    old = pio.renderers.default
    try:
        plots.init_notebook()
        assert pio.renderers.default == plots.RENDERER
        pending = list(pio.renderers._to_activate)
        plots.init_notebook()  # idempotent: plotly.js is not queued for embedding a second time
        assert list(pio.renderers._to_activate) == pending
        assert pio.renderers["notebook"].config["displaylogo"] is False
    finally:
        pio.renderers.default = old


def _embedded_figure(html):
    """(data, layout) of the one ``Plotly.newPlot(id, data, layout, config)`` call in an exported page."""
    (start,) = [m.end() for m in re.finditer(r"Plotly\.newPlot\(\s*", html)]
    dec = json.JSONDecoder()
    _, i = dec.raw_decode(html, start)  # the div id
    data, i = dec.raw_decode(html, html.index("[", i))
    lay, _ = dec.raw_decode(html, html.index("{", i))
    return data, lay


def _array(v):
    """A trace's array as exported: a plain list, or plotly's base64 typed array ``{"dtype", "bdata"}``."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape(v["shape"]) if "shape" in v else a
    return np.asarray(v)


def test_figures_export_to_standalone_html(tmp_path):
    df = _sweep_rows()
    path = tmp_path / "fig.html"
    plots.recall_curves(df, id_lines={"MLE": 9.5}).write_html(path, include_plotlyjs=True, config=plots.CONFIG)
    html = path.read_text()
    # standalone: plotly.js inlined once, nothing loaded from a CDN
    assert html.count("* plotly.js v") == 1 and not re.search(r"<script[^>]*\bsrc=", html)
    data, lay = _embedded_figure(html)
    # the page carries the figure itself: every (metric, method) line with its values, and the ID line
    assert [t["name"] for t in data] == ["pca", "rp", "rae"] * 3 + ["MLE = 9.5"]
    for mi, m in enumerate(["top_k@1", "top_k@10", "1-R@10"]):
        for j, meth in enumerate(["pca", "rp", "rae"]):
            t = data[mi * 3 + j]
            np.testing.assert_allclose(_array(t["x"]), [4, 8, 16])
            np.testing.assert_allclose(_array(t["y"]), df[df.method == meth][m])
            assert t["visible"] is (mi == 0)  # opens on the first metric
    # the dropdown: its labels, and the visibility each button sets
    (menu,) = lay["updatemenus"]
    assert [b["label"] for b in menu["buttons"]] == ["metric: top-1 accuracy", "metric: top-10 accuracy",
                                                     "metric: 1-recall@10"]
    assert [i for i, v in enumerate(menu["buttons"][1]["args"][0]["visible"]) if v] == [3, 4, 5, 9]
    assert lay["yaxis"]["title"]["text"] == "top-1 accuracy"
