"""Live explorers: controls recompute and update the FigureWidget in place, with progress."""

import ipywidgets as W
import plotly.graph_objects as go
import pytest

from rae_explore.report import widgets


def _line(n):
    return go.Figure(go.Scatter(x=list(range(n)), y=[i * i for i in range(n)]), layout=dict(title=f"n={n}"))


def test_explorer_updates_the_same_figure_in_place_with_progress():
    calls, progress_seen, disabled_during = [], [], []
    n = W.IntSlider(value=3, min=1, max=10, continuous_update=False)
    log = W.Checkbox(value=False)

    def compute(progress, n, log):
        calls.append((n, log))
        disabled_during.append(n_ctrl.disabled)
        for i in range(4):
            progress((i + 1) / 4, f"step {i + 1}")
            progress_seen.append(ex.progress.value)
        fig = _line(n)
        if log:
            fig.update_yaxes(type="log")
        return fig

    n_ctrl = n
    ex = widgets.Explorer({"n": n, "log": log}, compute, run_now=False)
    assert ex.n_updates == 0 and len(ex.figure.data) == 0
    assert ex.update()
    fw = ex.figure
    assert calls == [(3, False)] and ex.n_updates == 1
    assert len(fw.data[0].x) == 3 and fw.layout.title.text == "n=3"
    assert progress_seen == [0.25, 0.5, 0.75, 1.0] and disabled_during == [True]
    assert not n.disabled and ex.progress.layout.visibility == "hidden"
    assert "updated" in ex.status.value

    n.value = 7  # a control change recomputes, into the same FigureWidget object
    log.value = True
    assert calls[-2:] == [(7, False), (7, True)]
    assert ex.figure is fw and len(fw.data) == 1 and len(fw.data[0].x) == 7
    assert fw.layout.yaxis.type == "log" and fw.layout.title.text == "n=7"
    assert isinstance(ex.widget, W.VBox) and fw in ex.widget.children


def test_explorer_shows_errors_and_keeps_the_last_figure():
    k = W.IntSlider(value=2, min=1, max=5)

    def compute(progress, k):
        if k > 3:
            raise ValueError(f"k={k} is larger than nb=3")
        return _line(k)

    ex = widgets.Explorer({"k": k}, compute)
    k.value = 5
    assert isinstance(ex.last_error, ValueError) and "larger than nb" in ex.status.value
    assert len(ex.figure.data[0].x) == 2  # old figure kept
    assert not k.disabled  # controls usable again after the error
    k.value = 3
    assert ex.last_error is None and len(ex.figure.data[0].x) == 3 and ex.n_updates == 2


def test_explorer_manual_mode_and_argument_checks():
    k = W.IntSlider(value=2, min=1, max=5)
    ex = widgets.Explorer({"k": k}, lambda progress, k: _line(k), auto=False, run_now=False)
    assert len(ex.figure.data) == 0
    k.value = 4
    assert len(ex.figure.data) == 0  # auto=False: nothing until Recompute
    ex.button.click()
    assert len(ex.figure.data[0].x) == 4
    with pytest.raises(ValueError, match="at least one control"):
        widgets.Explorer({}, lambda progress: _line(1))
    with pytest.raises(TypeError, match="ipywidgets value widget"):
        widgets.Explorer({"k": 3}, lambda progress, k: _line(1))
    bad = widgets.Explorer({"k": W.IntSlider(1)}, lambda progress, k: "not a figure")
    assert isinstance(bad.last_error, TypeError)


def test_live_is_false_in_batch_runs_and_show_builds_nothing(monkeypatch):
    monkeypatch.setenv(widgets.BATCH_ENV, "1")
    assert not widgets.live()
    built = []
    assert widgets.show(lambda: built.append(1)) is None and built == []
    monkeypatch.delenv(widgets.BATCH_ENV)
    assert not widgets.live()  # plain Python, no kernel: no frontend to draw widgets


def test_recall_explorer_recomputes_only_what_changed(monkeypatch):
    import importlib

    ev = importlib.import_module("rae_explore.experiments.sweep")  # where widgets find sweep

    calls = []
    real = ev.run_config
    monkeypatch.setattr(ev, "run_config", lambda cfg: calls.append(cfg["method"]) or real(cfg))
    ex = widgets.recall_explorer("digits", methods=("pca", "rp", "rae"), dims=(2, 4), ks=(1, 10),
                                 method_params={"rae": {"steps": 20}}, dataset_kwargs={"n_samples": 300})
    assert ex.last_error is None and sorted(calls) == ["pca", "pca", "rae", "rae", "rp", "rp"]
    assert len(ex.figure.data) == 3 and ex.figure.layout.yaxis.title.text == "top-10 accuracy"
    ex.controls["k"].value = 1  # cached: no new fit
    assert len(calls) == 6 and ex.figure.layout.yaxis.title.text == "top-1 accuracy"
    ex.controls["alpha"].value = 1e-3  # only RAE depends on lambda
    assert sorted(calls[6:]) == ["rae", "rae"] and ex.n_updates == 3
    ex.controls["methods"].value = ("pca",)
    assert [t.name for t in ex.figure.data] == ["pca"] and len(calls) == 8
    ex.controls["methods"].value = ()
    assert "select at least one method" in ex.status.value


def test_recall_explorer_starts_from_the_notebook_rows_without_fitting(monkeypatch):
    import pandas as pd

    import importlib

    ev = importlib.import_module("rae_explore.experiments.sweep")  # where widgets find sweep

    monkeypatch.setattr(ev, "run_config", lambda cfg: pytest.fail("should not fit"))
    rows = pd.DataFrame({"method": ["pca", "pca"], "n_components": [2, 4], "top_k@10": [0.2, 0.4],
                         "top_k@1": [0.1, 0.3]})
    ex = widgets.recall_explorer("digits", methods=("pca",), dims=(2, 4), ks=(1, 10), rows=rows)
    assert ex.last_error is None and list(ex.figure.data[0].y) == [0.2, 0.4]


def test_spectrum_explorer_fits_one_rae_and_reports_kappa():
    ex = widgets.spectrum_explorer("digits", dim=4, alpha=1.0, ks=(10,), rae_params={"steps": 20},
                                   dataset_kwargs={"n_samples": 300})
    assert ex.last_error is None
    names = [t.name for t in ex.figure.data]
    assert names[:2] == ["closed form (penalty on all)", "PCA (λ→0): orthonormal"] and len(names) == 3
    assert len(ex.figure.data[2].y) == 4 and "κ=" in ex.figure.layout.title.text
    ex.controls["penalty"].value = "encoder"
    assert "penalty on encoder" in ex.figure.layout.title.text
    ex.controls["dim"].value = 100
    assert "below the dataset's d=64" in ex.status.value


def test_id_explorer_recomputes_local_estimates():
    ex = widgets.id_explorer("digits", estimators=("MLE", "TLE"), n_neighbors=10, n_samples=400)
    assert ex.last_error is None
    assert [t.name for t in ex.figure.data if t.type == "histogram"] == ["MLE", "TLE"]
    assert "k=10" in ex.figure.layout.title.text
    ex.controls["k"].value = 20
    assert ex.last_error is None and "k=20" in ex.figure.layout.title.text
    ex.controls["estimators"].value = ()
    assert "select at least one estimator" in ex.status.value
