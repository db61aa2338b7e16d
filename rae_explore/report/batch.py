"""Batch reports: run the parameterised notebooks with papermill, export them to offline HTML.

One *run* is one notebook executed with one set of parameters. It lands in
``reports/<run-id>/``::

    reports/
      index.html                          every run: notebook, parameters, date, status, links
      03-recall-curves--sift5k--1a2b3c4d5e/
        03-recall-curves.ipynb            the executed notebook (outputs kept)
        03-recall-curves.html             the same, as a self-contained HTML page
        run.json                          parameters, status, error, timings, notebook hash
        kernel.log                        what the kernel process wrote to stderr (C++ warnings)

The run id is derived from the notebook name and its *effective* parameters (the notebook's
defaults overlaid with the overrides), so the same parameters always map to the same folder,
and a finished run is reused instead of executed again (``force=True`` re-runs it; a run is
also re-run when the notebook's source changed since). A failed notebook is kept, exported and
marked ``failed`` with its error; the rest of the grid still runs.

Offline HTML: the notebooks display figures with :func:`rae_explore.report.plots.init_notebook`,
plotly's ``"plotly_mimetype+notebook"`` renderer, which embeds plotly.js once per kernel, i.e.
once per report, so a report opens with no network. ipywidgets never appear in batch runs (the
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
import time
from pathlib import Path

from ..grid import grid_product
from ..paths import NOTEBOOKS_DIR, REPORTS_DIR
from ..threads import share_cores
from .html import export_html, write_index
from .runs import KERNEL_NAME, Run, _now, list_runs, make_run_id

logger = logging.getLogger(__name__)


BATCH_ENV = "RAE_EXPLORE_BATCH"
"""Environment variable set to ``"1"`` for the kernels of batch runs (no ipywidgets then)."""


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
        works too. Default: every ``*.ipynb`` in ``notebooks_dir``, sorted.
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
        return available
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


@contextlib.contextmanager
def _batch_env():
    """Set RAE_EXPLORE_BATCH=1 while kernels start (they inherit the environment)."""
    old = os.environ.get(BATCH_ENV)
    os.environ[BATCH_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(BATCH_ENV, None)
        else:
            os.environ[BATCH_ENV] = old


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


def _error_text(exc):
    """One readable line for the index: the notebook's exception, or ours."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (cell In [{cell}])" if cell is not None else "")
    return f"{type(exc).__name__}: {exc}".strip()


def run_notebook(notebook, parameters=None, *, reports_dir=None, kernel_name=KERNEL_NAME, force=False,
                 timeout=None, html=True, verbose=False, _defaults=None):
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
        folder. Without it, a failed or outdated run re-executes in its folder as left, so a
        notebook that resumes from its own files there (the index-pipelines grid) picks up where
        it stopped.
    timeout : float, optional
        Per-cell time limit in seconds (papermill's ``execution_timeout``).
    html : bool
        Also export ``<notebook>.html``.
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

    prev = Run.load(run_dir)
    if (not force and prev is not None and prev.status == "ok" and prev.source_sha == source_sha
            and prev.ipynb.exists()):
        if html and not prev.html.exists():
            export_html(prev.ipynb, prev.html, prev)
        prev.reused = True
        logger.info("%s: reusing the finished run from %s", run_id, prev.finished)
        return prev

    if force and run_dir.exists():
        # a forced run starts from an empty folder: notebooks that resume from files they wrote in
        # their working directory (04's grid results) must not pick up the old ones
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "kernel.log").unlink(missing_ok=True)
    run = Run(run_id, nb_path.stem, effective, overrides, status="running", started=_now(),
              source_sha=source_sha, kernel=kernel_name, directory=str(run_dir))
    run.save()
    partial = run_dir / f".{nb_path.stem}.partial.ipynb"
    t0 = time.perf_counter()
    logger.info("%s: executing %s with %s", run_id, nb_path.name, overrides or "its defaults")
    try:
        import papermill as pm

        engine_kwargs = {} if timeout is None else {"execution_timeout": float(timeout)}
        with _batch_env(), _stderr_to(run_dir / "kernel.log"):
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
        run.finished = _now()
        if partial.exists():
            os.replace(partial, run.ipynb)
        elif run.ipynb.exists():
            run.ipynb.unlink()  # an older copy would contradict this run's status
        try:
            if html and run.ipynb.exists():
                export_html(run.ipynb, run.html, run)
            elif run.html.exists():
                run.html.unlink()
        except Exception as e:  # noqa: BLE001 - export failure is a run failure, recorded
            run.status = "failed"
            run.error = (run.error + "; " if run.error else "") + f"HTML export: {_error_text(e)}"
        run.save()
    return run


def run_report(notebooks=None, parameters=None, grid=None, *, reports_dir=None, kernel_name=KERNEL_NAME,
               force=False, timeout=None, html=True, verbose=False, notebooks_dir=None, progress=None, jobs=1):
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
                  verbose=verbose)
    jobs = max(1, min(int(jobs or 1), len(plan)))
    runs = []

    def done(run):
        runs.append(run)
        write_index(reports_dir)
        if progress is not None:
            progress(run)

    try:
        if jobs == 1:
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

