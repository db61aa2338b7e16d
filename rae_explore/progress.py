"""Progress bars of the package's long loops, in a terminal, a notebook, or a batch run's progress file.

Every ``verbose=True`` loop of the package (a sweep's configurations, exact k-NN blocks, training
steps, index search settings) gets its bar from :func:`progress_bar`:

* interactively it is ``tqdm.auto``: a widget in JupyterLab, text in a terminal;
* inside the kernel of a batch report (environment ``RAE_EXPLORE_BATCH=1``) a widget would end
  up as a dead ``Output`` in the exported HTML, so each bar instead writes plain-text lines, at
  most one a second, to the file named by ``RAE_EXPLORE_PROGRESS`` (the run folder's
  ``progress.log``, set by :mod:`rae_explore.report.batch`), or to the process's real stderr
  when no file is named. The batch process reads them back with :class:`ProgressFile` and shows
  one live line per running notebook.

A line of the progress file is ``<bar id> TAB <open|done> TAB <tqdm text>``, e.g.::

    4242.1	open	sweep: 3/12 config [00:41<02:03]
    4242.2	open	rae: 1200/5000 step [00:05<00:16, loss=0.0312]

>>> for config in progress_bar(configs, desc="sweep", unit="config"):  # doctest: +SKIP
...     ...
"""

import itertools
import os
import sys
import threading
import time

BATCH_ENV = "RAE_EXPLORE_BATCH"
"""Set to ``"1"`` in the kernels of batch runs (plain-text progress, no ipywidgets)."""

PROGRESS_ENV = "RAE_EXPLORE_PROGRESS"
"""Path of the file the bars of a batch kernel append their lines to."""

MININTERVAL_S = 1.0
"""Least time between two lines of one bar in batch mode."""

_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}{postfix}]"
_FORMAT_NO_DESC = "{n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}{postfix}]"
_ids = itertools.count(1)
_lock = threading.Lock()


def in_batch():
    """True inside the kernel of a batch report (``RAE_EXPLORE_BATCH=1``)."""
    return os.environ.get(BATCH_ENV) == "1"


def progress_bar(iterable=None, *, total=None, desc=None, unit="it", **kwargs):
    """A tqdm progress bar: ``tqdm.auto`` interactively, plain-text lines in a batch kernel.

    Parameters
    ----------
    iterable : iterable, optional
        Wrapped as tqdm does; or None for a manual bar (``update``, ``set_postfix``, ``close``).
    total : int, optional
        Number of iterations (default ``len(iterable)`` when it has one).
    desc, unit : str
        tqdm's label and unit (``"sweep"``, ``"config"``).
    **kwargs
        Passed to tqdm.

    Returns
    -------
    tqdm.tqdm
        Use it as any tqdm bar; close it (or exhaust the iterable) when the loop ends.
    """
    if not in_batch():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, **kwargs)
    kwargs.setdefault("bar_format", _FORMAT if desc else _FORMAT_NO_DESC)
    kwargs.setdefault("mininterval", MININTERVAL_S)
    kwargs.setdefault("ascii", True)
    return _line_bar_class()(iterable, total=total, desc=desc, unit=unit, file=_LineSink(), **kwargs)


class _LineSink:
    """Where a batch bar writes: appended to ``$RAE_EXPLORE_PROGRESS``, else ``sys.__stderr__``.

    The file is opened for each line, so bars in worker processes and a file that the batch
    process truncates between runs both work; tqdm's own carriage returns are dropped.
    """

    def write(self, text):
        return len(text)  # tqdm's raw writes (cursor moves, blank lines): the bar writes whole lines itself

    def flush(self):
        pass

    def line(self, text):
        path = os.environ.get(PROGRESS_ENV)
        with _lock:
            if path:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(text)
            elif sys.__stderr__ is not None:
                sys.__stderr__.write(text)
                sys.__stderr__.flush()


_LINE_BAR = None


def _line_bar_class():
    """The tqdm subclass of batch mode, built on first use (tqdm is imported lazily)."""
    global _LINE_BAR
    if _LINE_BAR is None:
        from tqdm.std import tqdm

        class LineBar(tqdm):
            """tqdm whose every display is one ``<id> TAB <state> TAB <text>`` line (no widget, no ``\\r``)."""

            def __init__(self, *args, **kwargs):
                self._rae_id = f"{os.getpid()}.{next(_ids)}"
                self._rae_done = False
                self._rae_last = -float("inf")
                super().__init__(*args, **kwargs)

            def display(self, msg=None, pos=None):
                if msg == "":
                    return True  # tqdm clearing the bar on close: the final line is written already
                now = time.monotonic()
                if not self._rae_done and now - self._rae_last < MININTERVAL_S:
                    return True  # set_postfix refreshes on every call: keep to one line a second
                self._rae_last = now
                text = " ".join((msg or self.__str__()).split())  # one line, whatever the format
                state = "done" if self._rae_done else "open"
                self.fp.line(f"{self._rae_id}\t{state}\t{text}\n")
                return True

            def close(self):
                if not self.disable and not self._rae_done:
                    self._rae_done = True
                    self.display()
                self.leave = False
                super().close()

        _LINE_BAR = LineBar
    return _LINE_BAR


class ProgressFile:
    """Read a progress file as it grows and tell which bars are open, with their latest text.

    Parameters
    ----------
    path : path
        The file :func:`progress_bar` appends to (it may not exist yet).

    Examples
    --------
    >>> live = ProgressFile("reports/<run-id>/progress.log")  # doctest: +SKIP
    >>> live.poll()  # doctest: +SKIP
    'sweep: 3/12 config [00:41<02:03] > rae: 1200/5000 step [00:05<00:16]'
    """

    def __init__(self, path):
        self.path = str(path)
        self._offset = 0
        self._rest = b""
        self._open = {}  # bar id -> latest text, in the order the bars opened

    def poll(self):
        """Read what was appended since the last call; return the open bars' texts joined by ``" > "``.

        Returns
        -------
        str
            ``""`` when no bar is open (or the file does not exist).
        """
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._offset:  # the file was replaced: start over
                    self._offset, self._rest, self._open = 0, b"", {}
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return self.text()
        self._offset += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        for raw in lines:
            parts = raw.decode("utf-8", errors="replace").split("\t", 2)
            if len(parts) != 3:
                continue  # not a bar line
            bar, state, text = parts
            if state == "done":
                self._open.pop(bar, None)
            else:
                self._open[bar] = text
        return self.text()

    def text(self):
        """The open bars' latest texts, outermost first, joined by ``" > "``."""
        return " > ".join(self._open.values())
