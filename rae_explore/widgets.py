"""Live controls for JupyterLab: ipywidgets that recompute and update plotly figures in place.

An :class:`Explorer` joins a few controls (dataset, method, dimension, λ, k, ...), a compute
function that returns a ``go.Figure`` built by :mod:`rae_explore.plots`, and one
``go.FigureWidget`` that is updated in place (no new output, zoom state kept where traces
allow) each time a control changes, with a progress bar and a status line while the work runs.

Widgets exist only in a live kernel with a frontend. In an exported HTML page no Python runs and
ipywidgets do not render (nbconvert #920, plotly.py #3886), so the notebooks also show plain
figures with a precomputed grid (see :mod:`rae_explore.plots`), and batch runs never build
widgets: :func:`live` is False when the kernel was started by :mod:`rae_explore.batch`
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

BATCH_ENV = "RAE_EXPLORE_BATCH"  # same name as rae_explore.batch.BATCH_ENV (not imported: batch pulls papermill)


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
