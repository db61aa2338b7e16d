"""Batch reports: run the parameterised notebooks with papermill, export them to offline HTML.

One *run* is one notebook executed with one set of parameters. It lands in
``reports/<run-id>/``::

    reports/
      index.html                          every run: notebook, parameters, date, status, links
      03-recall-curves--sift5k--1a2b3c4d5e/
        03-recall-curves.ipynb            the executed notebook (outputs kept)
        03-recall-curves.html             the same as an HTML page (under 1 MB; code hidden, a toggle shows it)
      plotly-<version>.min.js            plotly.js, once for every page (loaded by relative path)
        run.json                          parameters, status, error, timings, notebook and package hashes
        kernel.log                        what the kernel process wrote to stderr (C++ warnings)
        progress.log                      the package's progress bars in the kernel (rae_explore.progress)
        headline.json                     the run's headline results, if the notebook records them

The run id is derived from the notebook name and its *effective* parameters (the notebook's
defaults overlaid with the overrides), so the same parameters always map to the same folder,
and a finished run is reused instead of executed again (``force=True`` re-runs it; a run is
also re-run when the notebook's source or the package's source code changed since, so a fixed
bug never keeps showing in the reports). A failed notebook is kept, exported and marked
``failed`` with its error; the rest of the grid still runs.

Live progress: while notebooks run, :func:`run_report` prints a line as each one starts and
keeps one line per running notebook up to date: its cell (``cell 7 of 18``, read from the
partial notebook papermill saves at each cell) and the package's progress bars inside it (read
from ``progress.log``). On a terminal the lines are rewritten in place; otherwise (a log file,
CI) a line is printed when something changed, at most every :data:`LOG_EVERY_S` seconds per
notebook. ``quiet=True`` turns this off.

Offline HTML: the notebooks display figures with :func:`rae_explore.report.plots.init_notebook`,
plotly's ``"plotly_mimetype+notebook"`` renderer; :func:`rae_explore.report.html.export_html`
replaces the plotly.js it inlines with one shared file next to the pages (``standalone=True``
keeps it inline, for mailing one page alone), so every page opens from disk with no network. ipywidgets never appear in batch runs (the
kernel sees ``RAE_EXPLORE_BATCH=1``, see :func:`rae_explore.report.widgets.live`); what a reader can
explore in the HTML is carried by plotly's own sliders and dropdowns.

Examples
--------
>>> runs = run_report(["03-recall-curves"], {"dataset": "digits"},
...                   grid={"seed": [0, 1]})  # doctest: +SKIP
>>> [r.status for r in runs]  # doctest: +SKIP
['ok', 'ok']
"""

import ast
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

from ..grid import grid_product
from ..paths import NOTEBOOKS_DIR, REPORTS_DIR
from ..progress import BATCH_ENV, PROGRESS_ENV, ProgressFile
from ..threads import share_cores
from .html import export_html, write_index
from .runs import KERNEL_NAME, Run, now_iso, list_runs, make_run_id

logger = logging.getLogger(__name__)


PROGRESS_FILE = "progress.log"
"""Name of the file in a run folder that the kernel's progress bars write to."""

LIVE_POLL_S = 0.5
"""How often the live progress lines are refreshed."""

LOG_EVERY_S = 5.0
"""Off a terminal, the least time between two progress lines of one notebook."""


class KernelNotFoundError(LookupError):
    """The Jupyter kernel named for a batch run is not installed."""


# --------------------------------------------------------------------------- parameters
def check_kernel(kernel_name=KERNEL_NAME):
    """Fail fast if the Jupyter kernel ``kernel_name`` is not installed.

    Returns
    -------
    list of str
        The kernel's command line (``argv``), for the log.

    Raises
    ------
    KernelNotFoundError
        Naming the kernels that are installed and the command that installs the missing one.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(kernel_name)
    except NoSuchKernel:
        known = ", ".join(sorted(ksm.find_kernel_specs())) or "none"
        raise KernelNotFoundError(
            f"Jupyter kernel {kernel_name!r} is not installed (installed: {known}). Install it into the venv with "
            f"`.venv/bin/python -m ipykernel install --sys-prefix --name {kernel_name}` (`make venv` does this), "
            "or pass an installed one with --kernel."
        ) from None
    return list(spec.argv)


def resolve_notebooks(names=None, notebooks_dir=None):
    """Paths of the notebooks to run.

    Parameters
    ----------
    names : list of str, optional
        Stems (``"03-recall-curves"``), file names, or paths; a unique prefix such as ``"03"``
        works too. Default: every ``*.ipynb`` in ``notebooks_dir``, sorted, except those whose
        metadata says ``{"rae_explore": {"default_report": false}}`` (too slow for the main job;
        they run when named).
    notebooks_dir : path, optional
        Default :data:`rae_explore.paths.NOTEBOOKS_DIR`.

    Returns
    -------
    list of Path

    Raises
    ------
    FileNotFoundError
        A name matches no notebook (the message lists the available ones).
    ValueError
        A prefix matches several notebooks.
    """
    nb_dir = Path(NOTEBOOKS_DIR if notebooks_dir is None else notebooks_dir)
    available = sorted(p for p in nb_dir.glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        if not available:
            raise FileNotFoundError(f"no notebooks (*.ipynb) in {nb_dir}")
        return [p for p in available if in_default_report(p)]
    out = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.exists():
            out.append(p.resolve())
            continue
        stem = p.stem if p.suffix == ".ipynb" else p.name
        hits = [a for a in available if a.stem == stem] or [a for a in available if a.stem.startswith(stem)]
        if not hits:
            raise FileNotFoundError(
                f"no notebook {name!r} in {nb_dir}; available: {', '.join(a.stem for a in available) or 'none'}"
            )
        if len(hits) > 1:
            raise ValueError(f"notebook name {name!r} is ambiguous: {', '.join(a.stem for a in hits)}")
        out.append(hits[0])
    return out


def in_default_report(path):
    """Whether the notebook at ``path`` runs in the default report (its metadata may opt out)."""
    meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    return bool(meta.get("rae_explore", {}).get("default_report", True))


def notebook_parameters(path):
    """Parameter names and default values of a notebook's cell tagged ``parameters``.

    Returns
    -------
    dict
        ``{name: default}``; defaults are Python literals (the notebooks' rule). A default that
        is not a literal is kept as its source text.

    Raises
    ------
    ValueError
        The notebook has no cell tagged ``parameters``.
    """
    import papermill as pm

    params = pm.inspect_notebook(str(path))
    if not params:
        raise ValueError(f"{path}: no cell tagged 'parameters' (or it assigns nothing); papermill cannot parameterise it")
    out = {}
    for name, p in params.items():
        try:
            out[name] = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            out[name] = p["default"]
    return out


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _numbers(v):
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; read such strings as the numbers they are."""
    if isinstance(v, str) and _NUMBER.match(v.strip()):
        return float(v) if any(c in v for c in ".eE") else int(v)
    if isinstance(v, list):
        return [_numbers(x) for x in v]
    if isinstance(v, dict):
        return {k: _numbers(x) for k, x in v.items()}
    return v


def parse_value(text):
    """A command-line parameter value: YAML scalars and lists (``8``, ``1e-3``, ``true``, ``[4, 8]``), else the string."""
    import yaml

    try:
        return _numbers(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def parse_grid_values(text):
    """Grid values from the command line: a YAML list (``[sift5k, digits]``) or ``a,b,c``."""
    v = parse_value(text)
    if isinstance(v, list):
        return v
    return [parse_value(s.strip()) for s in str(text).split(",") if s.strip()]


def load_params_file(path):
    """Read parameters from a YAML file.

    Two layouts are accepted: a flat mapping ``{name: value}`` (parameters), or a mapping
    with any of the keys ``parameters`` (mapping), ``grid`` (mapping of name to list) and
    ``notebooks`` (list of names)::

        notebooks: [03-recall-curves]
        parameters: {n_samples: 3000}
        grid: {dataset: [sift5k, digits]}

    Returns
    -------
    parameters : dict
    grid : dict of lists
    notebooks : list of str or None
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"parameters file not found: {path}")
    with open(path) as f:
        doc = _numbers(yaml.safe_load(f) or {})
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a YAML mapping of parameters, got {type(doc).__name__}")
    if set(doc) & {"parameters", "grid", "notebooks"}:
        extra = set(doc) - {"parameters", "grid", "notebooks"}
        if extra:
            raise ValueError(f"{path}: unexpected keys {sorted(extra)} next to parameters/grid/notebooks; "
                             "put notebook parameters under 'parameters:'")
        params, grid, notebooks = doc.get("parameters") or {}, doc.get("grid") or {}, doc.get("notebooks")
    else:
        params, grid, notebooks = doc, {}, None
    if not isinstance(params, dict) or not isinstance(grid, dict):
        raise ValueError(f"{path}: 'parameters' and 'grid' must be mappings")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"{path}: grid entry {k!r} must be a non-empty list of values, got {v!r}")
    if notebooks is not None and isinstance(notebooks, str):
        notebooks = [notebooks]
    return dict(params), dict(grid), notebooks


def notebook_runs(parameters=None, grid=None):
    """The parameters of every run of a grid: each combination of ``grid`` overlaid on ``parameters``.

    >>> notebook_runs({"seed": 0}, {"dataset": ["a", "b"], "k": [1, 2]})  # doctest: +NORMALIZE_WHITESPACE
    [{'seed': 0, 'dataset': 'a', 'k': 1}, {'seed': 0, 'dataset': 'a', 'k': 2},
     {'seed': 0, 'dataset': 'b', 'k': 1}, {'seed': 0, 'dataset': 'b', 'k': 2}]
    """
    return grid_product(grid, parameters)


def _check_types(stem, name, default, value):
    """Catch the common slip of a scalar where the notebook expects a list.

    (The reverse is not an error: a parameter such as ``estimators = "all"`` also takes a list.)
    """
    if isinstance(default, (list, tuple)) and value is not None and not isinstance(value, (list, tuple)):
        raise ValueError(f"parameter {name!r} of {stem} expects a list such as {list(default)!r}, got {value!r}; "
                         f"on the command line write it as YAML: -p {name} '{list(default)}'; "
                         f"to run one notebook per value use a grid: --grid {name} ...")


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_source_sha():
    """sha256 of the package's source code: every ``rae_explore/**/*.py``, by sorted path, name and content.

    Part of the reuse decision of a finished run, so that a run made before a bug fix is executed
    again rather than shown.

    Returns
    -------
    str
        64 hex digits.
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


@contextlib.contextmanager
def _batch_env(progress_path):
    """Set RAE_EXPLORE_BATCH=1 and the progress file while kernels start (they inherit the environment)."""
    new = {BATCH_ENV: "1", PROGRESS_ENV: str(progress_path)}
    old = {k: os.environ.get(k) for k in new}
    os.environ.update(new)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _stderr_to(path):
    """Point file descriptor 2 at ``path`` while the kernel runs.

    The kernel process inherits our stderr, and C++ libraries in it (faiss's clustering
    warnings, for one) write there directly: without this they flood the terminal of a batch
    run. They are kept in ``<run-dir>/kernel.log`` instead.
    """
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as f:
            os.dup2(f.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _partial_path(run_dir, stem):
    """The notebook papermill writes (and saves at each cell) while a run executes."""
    return Path(run_dir) / f".{stem}.partial.ipynb"


def _error_text(exc):
    """One readable line for the index: the notebook's exception, or ours."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (cell In [{cell}])" if cell is not None else "")
    return f"{type(exc).__name__}: {exc}".strip()


def run_notebook(notebook, parameters=None, *, reports_dir=None, kernel_name=KERNEL_NAME, force=False,
                 timeout=None, html=True, standalone=False, verbose=False, _defaults=None):
    """Execute one notebook with papermill into ``reports/<run-id>/`` and export it to HTML.

    Parameters
    ----------
    notebook : path or str
        A notebook path, or a name resolved by :func:`resolve_notebooks`.
    parameters : dict, optional
        Overrides of the notebook's ``parameters`` cell. Names the notebook does not declare
        raise ``ValueError``.
    reports_dir : path, optional
        Default :data:`rae_explore.paths.REPORTS_DIR`.
    kernel_name : str
        Jupyter kernel, passed explicitly to papermill (checked first).
    force : bool
        Execute even if a finished run with the same parameters exists, in an emptied run
        folder. Without it, a finished run is reused while the notebook and the package source
        are unchanged (:func:`package_source_sha`); a finished run that is outdated also starts
        from an emptied folder, so no result of older code survives; a failed or interrupted run
        re-executes in its folder as left, so a notebook that resumes from its own files there
        (the index-pipelines grid) picks up where it stopped.
    timeout : float, optional
        Per-cell time limit in seconds (papermill's ``execution_timeout``).
    html : bool
        Also export ``<notebook>.html``.
    standalone : bool
        Inline plotly.js in the page (about 5 MB) instead of sharing one file per reports folder.
    verbose : bool
        papermill's progress bar.

    Returns
    -------
    Run
        ``status`` is ``"ok"`` or ``"failed"`` (with ``error``). A failing notebook does not
        raise: its executed copy is kept and exported.

    Raises
    ------
    KernelNotFoundError, FileNotFoundError, ValueError
        Before anything runs: missing kernel, unknown notebook, unknown parameter.
    """
    nb_path = Path(notebook) if Path(notebook).suffix == ".ipynb" else resolve_notebooks([notebook])[0]
    if not nb_path.exists():
        raise FileNotFoundError(f"notebook not found: {nb_path}")
    defaults = notebook_parameters(nb_path) if _defaults is None else _defaults
    overrides = dict(parameters or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"{nb_path.stem} has no parameter(s) {unknown}; its parameters are {sorted(defaults)}")
    for k, v in overrides.items():
        _check_types(nb_path.stem, k, defaults[k], v)
    check_kernel(kernel_name)

    effective = {**defaults, **overrides}
    reports_dir = Path(REPORTS_DIR if reports_dir is None else reports_dir)
    run_id = make_run_id(nb_path, effective)
    run_dir = reports_dir / run_id
    source_sha = _sha(nb_path)
    package_sha = package_source_sha()

    prev = Run.load(run_dir)
    if (not force and prev is not None and prev.status == "ok" and prev.source_sha == source_sha
            and prev.package_sha == package_sha and prev.ipynb.exists()):
        if html and (standalone or not prev.html.exists()):  # a reused run can still be exported standalone
            export_html(prev.ipynb, prev.html, prev, standalone=standalone)
        prev.reused = True
        logger.info("%s: reusing the finished run from %s", run_id, prev.finished)
        return prev
    outdated = not force and prev is not None and prev.status == "ok"
    if outdated:
        logger.info("%s: running again, the %s changed since %s", run_id,
                    "notebook" if prev.source_sha != source_sha else "package source", prev.finished)

    if (force or outdated) and run_dir.exists():
        # a forced or outdated run starts from an empty folder: notebooks that resume from files they
        # wrote in their working directory (04's grid results) must not pick up the old ones
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "kernel.log").unlink(missing_ok=True)
    (run_dir / PROGRESS_FILE).unlink(missing_ok=True)
    run = Run(run_id, nb_path.stem, effective, overrides, status="running", started=now_iso(),
              source_sha=source_sha, package_sha=package_sha, kernel=kernel_name, directory=str(run_dir))
    run.save()
    partial = _partial_path(run_dir, nb_path.stem)
    t0 = time.perf_counter()
    logger.info("%s: executing %s with %s", run_id, nb_path.name, overrides or "its defaults")
    try:
        import papermill as pm

        engine_kwargs = {} if timeout is None else {"execution_timeout": float(timeout)}
        with _batch_env(run_dir / PROGRESS_FILE), _stderr_to(run_dir / "kernel.log"):
            pm.execute_notebook(str(nb_path), str(partial), parameters=overrides, kernel_name=kernel_name,
                                progress_bar=verbose, log_output=False, cwd=str(run_dir), **engine_kwargs)
        run.status = "ok"
    except KeyboardInterrupt:
        run.status, run.error = "failed", "interrupted (KeyboardInterrupt)"
        raise
    except Exception as e:  # noqa: BLE001 - any notebook failure is recorded, the grid goes on
        run.status, run.error = "failed", _error_text(e)
        logger.warning("%s failed: %s", run_id, run.error)
    finally:
        run.duration_s = round(time.perf_counter() - t0, 2)
        run.finished = now_iso()
        if partial.exists():
            os.replace(partial, run.ipynb)
        elif run.ipynb.exists():
            run.ipynb.unlink()  # an older copy would contradict this run's status
        try:
            if html and run.ipynb.exists():
                export_html(run.ipynb, run.html, run, standalone=standalone)
            elif run.html.exists():
                run.html.unlink()
        except Exception as e:  # noqa: BLE001 - export failure is a run failure, recorded
            run.status = "failed"
            run.error = (run.error + "; " if run.error else "") + f"HTML export: {_error_text(e)}"
        run.save()
    return run


def run_report(notebooks=None, parameters=None, grid=None, *, reports_dir=None, kernel_name=KERNEL_NAME,
               force=False, timeout=None, html=True, standalone=False, verbose=False, notebooks_dir=None,
               progress=None, jobs=1, quiet=False, client=None):
    """Run notebooks over a parameter grid and refresh ``reports/index.html``.

    Parameters apply to every selected notebook that declares them (a name no selected notebook
    declares raises ``ValueError``). Each grid combination runs every notebook; combinations
    that leave a notebook's parameters unchanged run it once.

    Parameters
    ----------
    notebooks : list of str, optional
        Names or paths (:func:`resolve_notebooks`); default all of ``notebooks/``.
    parameters : dict, optional
        Overrides applied to every run.
    grid : dict of lists, optional
        ``{name: [values]}``; the runs are the Cartesian product.
    reports_dir, kernel_name, force, timeout, html, verbose
        As in :func:`run_notebook`.
    notebooks_dir : path, optional
        Where names are looked up.
    progress : callable, optional
        Called as ``progress(run)`` after each run (the CLI prints a line).
    jobs : int
        Notebooks executed at the same time (worker processes). With ``jobs > 1`` each kernel
        gets ``cpu_count // jobs`` threads (``OMP_NUM_THREADS`` and friends, unless already
        set), so parallel runs do not oversubscribe the cores.
    quiet : bool
        No live progress. By default a line is printed to ``sys.stdout`` as each notebook starts,
        and one line per running notebook says which cell runs and how far the package's
        progress bars in it got, e.g.
        ``[   run] 03-recall-curves--sift5k--1a2b3c4d5e  2:41  cell 7 of 18  sweep: 3/12 config [00:41<02:03]``
        (rewritten in place on a terminal, printed every :data:`LOG_EVERY_S` seconds at most
        otherwise).
    client : dask.distributed.Client, optional
        Run the notebooks on its workers instead (``jobs`` is then ignored): every worker needs
        the kernel, the package and a shared view of ``reports_dir`` (a ``LocalCluster`` has
        them; :func:`rae_explore.experiments.distributed.dask_client`).

    Returns
    -------
    list of Run
        In execution order; failed runs included.
    """
    paths = resolve_notebooks(notebooks, notebooks_dir)
    check_kernel(kernel_name)
    declared = {p: notebook_parameters(p) for p in paths}
    combos = notebook_runs(parameters, grid)
    known = set().union(*(set(d) for d in declared.values()))
    unknown = sorted(set(combos[0]) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for {', '.join(p.stem for p in paths)}; "
                         f"known parameters: {sorted(known)}")
    plan, seen = [], set()
    for combo in combos:
        for p in paths:
            over = {k: v for k, v in combo.items() if k in declared[p]}
            for k, v in over.items():
                _check_types(p.stem, k, declared[p][k], v)
            key = make_run_id(p, {**declared[p], **over})
            if key not in seen:
                seen.add(key)
                plan.append((p, over))
    reports_dir = Path(REPORTS_DIR if reports_dir is None else reports_dir)
    logger.info("%d run(s) planned into %s", len(plan), reports_dir)
    kwargs = dict(reports_dir=reports_dir, kernel_name=kernel_name, force=force, timeout=timeout, html=html,
                  standalone=standalone, verbose=verbose)
    jobs = max(1, min(int(jobs or 1), len(plan)))
    runs = []
    live = _LiveProgress([(make_run_id(p, {**declared[p], **over}), p.stem) for p, over in plan], reports_dir,
                         enabled=not quiet)
    live.say(f"{len(plan)} run(s) of {len(paths)} notebook(s), {jobs} at a time, into {reports_dir}")

    def done(run):
        runs.append(run)
        live.finished(run.run_id)
        write_index(reports_dir)
        if progress is not None:
            with live.paused():
                progress(run)

    try:
        live.start()
        if client is not None:
            from dask.distributed import as_completed

            futures = [client.submit(run_notebook, p, over, _defaults=declared[p], pure=False, **kwargs)
                       for p, over in plan]
            for fut in as_completed(futures):
                done(fut.result())
            order = {make_run_id(p, {**declared[p], **over}): i for i, (p, over) in enumerate(plan)}
            runs.sort(key=lambda r: order.get(r.run_id, len(order)))
        elif jobs == 1:
            for p, over in plan:
                done(run_notebook(p, over, _defaults=declared[p], **kwargs))
        else:
            import concurrent.futures as cf
            import multiprocessing as mp

            # processes, not threads: each run sets its own environment for the kernel it starts.
            # Longest expected first, so that a long notebook does not start last and leave the
            # other worker idle (see _expected_durations).
            expected = _expected_durations(reports_dir, paths)
            ordered = sorted(plan, key=lambda po: -expected.get(po[0].stem, float("inf")))
            with cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=share_cores,
                                        initargs=(jobs,)) as pool:
                futures = [pool.submit(run_notebook, p, over, _defaults=declared[p], **kwargs) for p, over in ordered]
                for fut in cf.as_completed(futures):
                    done(fut.result())
            order = {make_run_id(p, {**declared[p], **over}): i for i, (p, over) in enumerate(plan)}
            runs.sort(key=lambda r: order.get(r.run_id, len(order)))
    finally:
        live.stop()
        write_index(reports_dir)
    return runs


def _expected_durations(reports_dir, paths=()):
    """{notebook stem: expected seconds}: its most recent finished run in ``reports_dir``, else the
    notebook's own hint ``metadata["rae_explore"]["expected_s"]``; notebooks with neither are
    left out (the caller runs those first: they may be long)."""
    out = {}
    for p in paths:
        try:
            hint = json.loads(Path(p).read_text()).get("metadata", {}).get("rae_explore", {}).get("expected_s")
        except (OSError, ValueError):
            hint = None
        if isinstance(hint, (int, float)) and hint > 0:
            out[Path(p).stem] = float(hint)
    for r in reversed(list_runs(reports_dir)):  # oldest first, so the newest wins
        if r.status == "ok" and r.duration_s > 0:
            out[r.notebook] = r.duration_s
    return out



# --------------------------------------------------------------------------- live progress
def _cells(path):
    """``(i, n)``: the code cell running (or the number finished) and the number of code cells of a
    notebook papermill is executing; None if the file is absent or caught half-written."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    status = [c.get("metadata", {}).get("papermill", {}).get("status") for c in code]
    if "running" in status:
        return status.index("running") + 1, len(code)
    return sum(s in ("completed", "failed") for s in status), len(code)


def _clock(seconds):
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class _Watch:
    """What the live display knows of one planned run: started yet, its cell, its progress bars."""

    def __init__(self, run_id, stem, run_dir):
        self.run_id, self.run_dir = run_id, Path(run_dir)
        self.partial = _partial_path(run_dir, stem)
        self.bars = ProgressFile(self.run_dir / PROGRESS_FILE)
        self.started = None  # time.monotonic() when seen running
        self.done = False
        self.cells, self._cells_mtime = None, None
        self.logged_at, self.logged = -float("inf"), None

    def check_started(self, since):
        """True the first time ``run.json`` says running, written after ``since`` (epoch seconds)."""
        path = self.run_dir / "run.json"
        try:
            if path.stat().st_mtime < since - 1:
                return False
            status = json.loads(path.read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            return False
        if status != "running":
            return False
        self.started = time.monotonic()
        return True

    def state(self):
        """``(cell text, progress text)`` now."""
        try:
            mtime = self.partial.stat().st_mtime_ns
        except OSError:
            mtime = None
        if mtime is not None and mtime != self._cells_mtime:
            cells = _cells(self.partial)
            if cells is not None:
                self.cells, self._cells_mtime = cells, mtime
        cell = "starting the kernel" if not self.cells or not self.cells[0] else f"cell {self.cells[0]} of {self.cells[1]}"
        return cell, self.bars.poll()


class _LiveProgress:
    """The lines :func:`run_report` prints while notebooks run (see its ``quiet``).

    A thread polls the run folders of the plan; it never touches the runs themselves, so it works
    the same whether they execute in this process or in worker processes.
    """

    def __init__(self, plan, reports_dir, *, enabled=True, stream=None):
        self.enabled = enabled
        self._stream = sys.stdout if stream is None else stream
        isatty = getattr(self._stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._watches = {rid: _Watch(rid, stem, Path(reports_dir) / rid) for rid, stem in plan}
        self._since = time.time()
        self._lock = threading.RLock()
        self._drawn = 0  # lines of the live block on screen (terminal only)
        self._stop = threading.Event()
        self._thread = None

    # ---- called by run_report
    def start(self):
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="rae-explore-live-progress", daemon=True)
            self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        with self._lock:
            self._clear()

    def say(self, text):
        """Print a permanent line (above the live block)."""
        if not self.enabled:
            return
        with self._lock:
            self._clear()
            self._write(text + "\n")

    def finished(self, run_id):
        with self._lock:
            if run_id in self._watches:
                self._watches[run_id].done = True

    @contextlib.contextmanager
    def paused(self):
        """Hold the live block off the screen while the caller prints."""
        with self._lock:
            self._clear()
            yield

    # ---- the thread
    def _loop(self):
        while not self._stop.wait(LIVE_POLL_S):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the display must never stop a batch
                logger.debug("live progress failed", exc_info=True)

    def tick(self):
        """Look at every unfinished run once and print what changed."""
        with self._lock:
            now = time.monotonic()
            lines = []
            for w in self._watches.values():
                if w.done:
                    continue
                if w.started is None:
                    if not w.check_started(self._since):
                        continue
                    self._clear()
                    self._write(f"[ start] {w.run_id}\n")
                    w.logged_at = now  # off a terminal, the first progress line comes LOG_EVERY_S later
                cell, bars = w.state()
                line = f"[   run] {w.run_id}  {_clock(now - w.started)}  {cell}" + (f"  {bars}" if bars else "")
                if self._tty:
                    lines.append(line)
                elif (cell, bars) != w.logged and now - w.logged_at >= LOG_EVERY_S:
                    w.logged, w.logged_at = (cell, bars), now
                    self._write(line + "\n")
            if self._tty:
                self._draw(lines)

    # ---- output
    def _write(self, text):
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # closed stream: nothing to show it on
            pass

    def _clear(self):
        if self._tty and self._drawn:
            self._write(f"\x1b[{self._drawn}F\x1b[J")  # to the block's first line, erase to the end
            self._drawn = 0

    def _draw(self, lines):
        width = max(20, shutil.get_terminal_size().columns - 1)  # a wrapped line would break the cursor moves
        self._clear()
        self._write("".join(line[:width] + "\n" for line in lines))
        self._drawn = len(lines)
