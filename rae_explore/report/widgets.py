"""Live controls for JupyterLab: ipywidgets that recompute and update plotly figures in place.

An :class:`Explorer` joins a few controls (dataset, method, dimension, λ, k, ...), a compute
function that returns a ``go.Figure`` built by :mod:`rae_explore.report.plots`, and one
``go.FigureWidget`` that is updated in place (no new output, zoom state kept where traces
allow) each time a control changes, with a progress bar and a status line while the work runs.

Widgets exist only in a live kernel with a frontend. In an exported HTML page no Python runs and
ipywidgets do not render (nbconvert #920, plotly.py #3886), so the notebooks also show plain
figures with a precomputed grid (see :mod:`rae_explore.report.plots`), and batch runs never build
widgets: :func:`live` is False when the kernel was started by :mod:`rae_explore.report.batch`
(``RAE_EXPLORE_BATCH=1``) or outside IPython, and :func:`show` then only leaves a one-line note.

Examples
--------
>>> ex = Explorer({"k": ipywidgets.IntSlider(10, 1, 50)}, lambda k, progress: some_figure(k))  # doctest: +SKIP
>>> show(lambda: ex)  # doctest: +SKIP
"""

import logging
import os
import time

import plotly.graph_objects as go

logger = logging.getLogger(__name__)

BATCH_ENV = "RAE_EXPLORE_BATCH"  # same name as rae_explore.report.batch.BATCH_ENV (not imported: batch pulls papermill)


def live():
    """True when widgets can work: an IPython kernel (JupyterLab/Notebook), not a batch run."""
    if os.environ.get(BATCH_ENV) == "1":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def show(factory, *args, **kwargs):
    """Build and display ``factory(*args, **kwargs)`` only when :func:`live`; else display a short note.

    Returns
    -------
    The built object (an :class:`Explorer`), or None in batch runs and exported reports.
    """
    from IPython.display import HTML, display

    if not live():
        display(HTML("<p><i>Live controls (ipywidgets) appear here when this notebook runs in JupyterLab; "
                     "in this report, use the sliders and menus of the figures.</i></p>"))
        return None
    obj = factory(*args, **kwargs)
    display(obj.widget if isinstance(obj, Explorer) else obj)
    return obj


class Explorer:
    """Controls + a compute function + one FigureWidget updated in place.

    Parameters
    ----------
    controls : dict of str -> ipywidgets.ValueWidget
        The keyword arguments of ``compute``; a change of any of them recomputes (sliders
        should use ``continuous_update=False``).
    compute : callable
        ``compute(progress=callback, **values) -> go.Figure``. ``callback(fraction, message="")``
        moves the progress bar (``fraction`` in [0, 1]).
    auto : bool
        Recompute on every control change; if False, only the "Recompute" button does.
    run_now : bool
        Compute once at construction (the figure is empty until then).
    title : str, optional
        A line of text above the controls.

    Attributes
    ----------
    figure : go.FigureWidget
    progress : ipywidgets.FloatProgress
    status : ipywidgets.HTML
    widget : ipywidgets.VBox
        What to display.
    last_error : Exception or None
    n_updates : int
        Completed recomputations.
    """

    def __init__(self, controls, compute, *, auto=True, run_now=True, title=None):
        import ipywidgets as W

        if not controls:
            raise ValueError("Explorer needs at least one control")
        for name, c in controls.items():
            if not hasattr(c, "value") or not hasattr(c, "observe"):
                raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(c).__name__}")
        self.controls = dict(controls)
        self.compute = compute
        self.auto = auto
        self.figure = go.FigureWidget()
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="", bar_style="info",
                                        layout=W.Layout(width="220px", visibility="hidden"))
        self.status = W.HTML(value="")
        self.button = W.Button(description="Recompute", icon="refresh", tooltip="compute again with these settings")
        self.button.on_click(lambda _b: self.update())
        self.last_error = None
        self.n_updates = 0
        self._busy = False
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        rows = [W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap")),
                W.HBox([self.button, self.progress, self.status]), self.figure]
        if title:
            rows.insert(0, W.HTML(f"<b>{title}</b>"))
        self.widget = W.VBox(rows)
        if run_now:
            self.update()

    @property
    def values(self):
        """Current control values, by name."""
        return {k: c.value for k, c in self.controls.items()}

    def _on_change(self, change):
        if self.auto and not self._busy:
            self.update()

    def _report(self, fraction, message=""):
        self.progress.value = float(min(max(fraction, 0.0), 1.0))
        if message:
            self.status.value = f"<span style='color:#555'>{message}</span>"

    def _set_busy(self, busy):
        self._busy = busy
        for c in list(self.controls.values()) + [self.button]:
            c.disabled = busy
        self.progress.layout.visibility = "visible" if busy else "hidden"

    def update(self):
        """Recompute with the current values and replace the figure's traces and layout in place.

        Returns
        -------
        bool
            True if the figure was updated; False if ``compute`` raised (the error is shown in
            the status line, kept in ``last_error`` and logged; the old figure stays).
        """
        if self._busy:
            return False
        self._set_busy(True)
        self.progress.value = 0.0
        self.status.value = "<span style='color:#555'>computing…</span>"
        t0 = time.perf_counter()
        try:
            fig = self.compute(progress=self._report, **self.values)
            if not isinstance(fig, go.Figure):
                raise TypeError(f"compute must return a plotly go.Figure, got {type(fig).__name__}")
            self.replace_figure(fig)
        except Exception as e:  # noqa: BLE001 - shown to the user in the widget, not raised into the event loop
            self.last_error = e
            logger.exception("explorer update failed")
            self.status.value = f"<span style='color:#cf222e'>{type(e).__name__}: {e}</span>"
            return False
        finally:
            self._set_busy(False)
        self.last_error = None
        self.n_updates += 1
        self.progress.value = 1.0
        self.status.value = f"<span style='color:#1a7f37'>updated in {time.perf_counter() - t0:.1f} s</span>"
        return True

    def replace_figure(self, fig):
        """Swap traces and layout of :attr:`figure` for those of ``fig`` in one batched message."""
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(list(fig.data))
            self.figure.layout = fig.layout


# --------------------------------------------------------------------------- ready-made explorers
def _dataset_names(extra=()):
    from ..data.datasets import DATASETS

    names = [k for k, v in DATASETS.items() if v.builtin]
    return list(dict.fromkeys(list(extra) + names))


def recall_explorer(dataset="sift5k", *, methods=("pca", "rp", "rae"), dims=(4, 8, 16, 32), ks=(1, 10, 50),
                    alpha=1e-7, method_params=None, metric=None, dataset_kwargs=None, seed=0, time_budget_s=None,
                    rows=None, run_now=True):
    """Top-k accuracy against dimension, recomputed for a dataset, a set of methods, λ and k.

    Controls: dataset, methods (multi-select), λ of RAE (log slider), k. Evaluations are cached,
    so changing k, or re-adding a method, costs nothing; a new dataset or λ runs only the missing
    configurations (:func:`rae_explore.experiments.sweep.sweep`), with a progress bar per configuration.

    Parameters
    ----------
    dataset : str
        Initial dataset (the dropdown lists every built-in one).
    methods : sequence of str
        Selectable reducers (all selected at first).
    dims, ks : sequence of int
        The dimension grid and the k offered.
    alpha : float
        Initial λ of RAE.
    method_params : dict, optional
        ``{method: params}`` passed to the reducers (RAE's ``alpha`` is the slider's).
    metric, dataset_kwargs, seed, time_budget_s
        As in :func:`rae_explore.experiments.sweep.sweep` / :class:`rae_explore.experiments.executors.TimeBudget`.
    rows : DataFrame, optional
        Sweep rows already computed for the initial settings (the notebook's): the first
        figure is drawn from them instead of being recomputed.

    Returns
    -------
    Explorer
    """
    import math

    import ipywidgets as W
    import pandas as pd

    from ..experiments.executors import TimeBudget
    from ..experiments.sweep import sweep
    from . import plots

    method_params = dict(method_params or {})
    lo = math.floor(math.log10(alpha)) - 4 if alpha > 0 else -10
    controls = {
        "dataset": W.Dropdown(options=_dataset_names([dataset]), value=dataset, description="dataset"),
        "methods": W.SelectMultiple(options=list(methods), value=tuple(methods), description="methods", rows=4),
        "alpha": W.FloatLogSlider(value=alpha if alpha > 0 else 10 ** lo, base=10, min=lo, max=lo + 8, step=0.25,
                                  description="λ (RAE)", continuous_update=False, readout_format=".1e"),
        "k": W.Dropdown(options=list(ks), value=list(ks)[min(1, len(ks) - 1)], description="k"),
    }
    cache = {}
    key = lambda ds, m, p: (ds, m, tuple(sorted(p.items())))  # noqa: E731 - local cache key

    def settings(methods, alpha):
        out = []
        for m in methods:
            p = dict(method_params.get(m, {}))
            if m == "rae":
                p["alpha"] = float(alpha)
            out.append((m, p))
        return out

    if rows is not None and len(rows):
        for m, p in settings(methods, controls["alpha"].value):
            sub = rows[rows["method"] == m]
            if len(sub):
                cache[key(dataset, m, p)] = sub

    def compute(progress, dataset, methods, alpha, k):
        if not methods:
            raise ValueError("select at least one method")
        pairs = settings(methods, alpha)
        todo = [(m, p) for m, p in pairs if key(dataset, m, p) not in cache]
        n_all = len(todo) * len(dims)
        for j, (m, p) in enumerate(todo):  # one sweep per method, so each result is cached under its params
            budget = TimeBudget(time_budget_s, progress=lambda i, n, j=j: progress(
                (j * len(dims) + i) / n_all, f"{j * len(dims) + i}/{n_all} configurations"))
            cache[key(dataset, m, p)] = sweep([(m, p)], list(dims), dataset, ks=tuple(ks), metric=metric,
                                              seeds=(seed,), dataset_kwargs=dataset_kwargs, executor=budget)
        df = pd.concat([cache[key(dataset, m, p)] for m, p in pairs], ignore_index=True)
        return plots.recall_curves(df, metrics=[f"top_k@{k}"],
                                   title=f"{dataset}: top-{k} accuracy against dimension (λ={alpha:.1e} for RAE)")

    return Explorer(controls, compute, run_now=run_now, title="Recall explorer (recomputes live)")


def spectrum_explorer(dataset="sift5k", *, dim=16, alpha=1.0, alpha_range=(1e-3, 1e3), ks=(1, 10, 50),
                      rae_params=None, dataset_kwargs=None, seed=0, run_now=True):
    """One RAE fit at a time: its encoder singular values against the closed form and PCA.

    Controls: dataset, dimension, λ (log slider), penalty (``"all"`` or ``"encoder"``), k. The
    title gives the condition number and the top-k accuracy of the fit.

    Returns
    -------
    Explorer
    """
    import math

    import ipywidgets as W
    import numpy as np
    import pandas as pd

    from ..data.datasets import load_dataset
    from ..experiments.evaluate import evaluate
    from ..reducers.rae import RAE
    from . import plots

    rae_params = dict(rae_params or {})
    controls = {
        "dataset": W.Dropdown(options=_dataset_names([dataset]), value=dataset, description="dataset"),
        "dim": W.IntSlider(value=dim, min=2, max=128, description="dimension", continuous_update=False),
        "alpha": W.FloatLogSlider(value=alpha, base=10, min=math.log10(alpha_range[0]),
                                  max=math.log10(alpha_range[1]), step=0.25, description="λ",
                                  continuous_update=False, readout_format=".1e"),
        "penalty": W.Dropdown(options=["all", "encoder"], value="all", description="penalty on"),
        "k": W.Dropdown(options=list(ks), value=list(ks)[min(1, len(ks) - 1)], description="k"),
    }
    loaded = {}

    def compute(progress, dataset, dim, alpha, penalty, k):
        if dataset not in loaded:
            loaded.clear()
            ds = load_dataset(dataset, **dict(dataset_kwargs or {}, seed=seed))
            loaded[dataset] = ds.prepared()  # what evaluate fits on
        ds = loaded[dataset]
        if dim >= ds.d:
            raise ValueError(f"dimension {dim} must be below the dataset's d={ds.d}")
        progress(0.1, "training RAE…")
        red = RAE(dim, alpha=float(alpha), penalty=penalty, random_state=seed, **rae_params)
        row = evaluate(red, ds, ks=(k,))
        progress(0.8, "closed form…")
        cf = RAE(dim, alpha=float(alpha), solver="closed_form", bias=rae_params.get("bias", True)).fit(ds.train)
        spec = pd.DataFrame({"alpha": float(alpha), "index": np.arange(dim), "singular_value": red.singular_values_})
        ref = {"closed form (penalty on all)": cf.singular_values_, "PCA (λ→0): orthonormal": np.ones(dim)}
        fig = plots.encoder_spectrum(spec, reference=ref, title=(
            f"{dataset}, m={dim}, λ={alpha:.1e}, penalty on {penalty}: κ={row['condition_number']:.3g}, "
            f"top-{k} accuracy {row[f'top_k@{k}']:.3f}"))
        fig.layout.sliders = ()
        return fig

    return Explorer(controls, compute, run_now=run_now, title="RAE spectrum explorer (recomputes live)")


def id_explorer(dataset="sift5k", *, estimators=("MLE", "TLE", "MOM", "lPCA"), n_neighbors=20, n_samples=None,
                metric=None, seed=0, budget_s=30.0, run_now=True):
    """Local intrinsic dimension of a dataset, recomputed for a dataset, estimators and a neighbourhood size.

    Controls: dataset, estimators (multi-select, local ones: :data:`rae_explore.intrinsic.estimate.LOCAL_ESTIMATORS`),
    neighbourhood size k. The figure is the histogram of the pointwise estimates (a dropdown
    picks the estimator), each with its global estimate as a dashed line.

    Returns
    -------
    Explorer
    """
    import ipywidgets as W

    from ..data.datasets import load_dataset
    from ..intrinsic.estimate import LOCAL_ESTIMATORS, estimate_id, local_id
    from . import plots

    controls = {
        "dataset": W.Dropdown(options=_dataset_names([dataset]), value=dataset, description="dataset"),
        "estimators": W.SelectMultiple(options=list(LOCAL_ESTIMATORS), value=tuple(estimators),
                                       description="estimators", rows=4),
        "k": W.IntSlider(value=n_neighbors, min=5, max=200, step=5, description="neighbours k",
                         continuous_update=False),
    }
    loaded = {}

    def compute(progress, dataset, estimators, k):
        if not estimators:
            raise ValueError("select at least one estimator")
        if dataset not in loaded:
            loaded.clear()
            kw = {"seed": seed} if n_samples is None else {"seed": seed, "n_samples": n_samples}
            ds = load_dataset(dataset, metric=metric, **kw)
            loaded[dataset] = ds.prepared()
        X = loaded[dataset].xb
        progress(0.1, "pointwise estimates…")
        local = local_id(X, list(estimators), n_neighbors=int(k), random_state=seed, budget_s=budget_s)
        progress(0.7, "global estimates…")
        table = estimate_id(X, list(estimators), n_neighbors=int(k), random_state=seed, budget_s=budget_s)
        glob = {r.estimator: r.dimension for r in table.itertuples() if r.status == "ok"}
        return plots.local_id_histogram(local, global_estimates=glob,
                                        title=f"{dataset}: local intrinsic dimension, k={k} neighbours")

    return Explorer(controls, compute, run_now=run_now, title="Intrinsic-dimension explorer (recomputes live)")
