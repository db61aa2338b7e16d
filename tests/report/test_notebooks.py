"""Every notebook in notebooks/: thin and committed clean, and it executes under papermill.

Each notebook runs once per session with tiny parameters through :func:`rae_explore.report.batch.run_notebook`
(papermill, the venv's ``python3`` kernel, HTML export). The tiny parameters come from the
notebook's own metadata, ``metadata["rae_explore"]["test_parameters"]``, where its author keeps
them in step with its parameters cell; a notebook without them gets :data:`FALLBACK` for the
names it declares. test_browser.py opens the HTML these runs export.
"""

import ast
import concurrent.futures as cf
import json
import multiprocessing as mp
import re

import nbformat
import pytest

from rae_explore.paths import NOTEBOOKS_DIR
from rae_explore.report import batch
from rae_explore.threads import share_cores

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
FALLBACK = {"dataset": "digits", "n_samples": 500}

_RUNS = {}  # one execution per session, shared with test_browser.py


def tiny_parameters(path):
    """The tiny parameters a notebook declares for tests (or the fallback, for the names it has)."""
    meta = json.loads(path.read_text()).get("metadata", {}).get("rae_explore", {})
    if "test_parameters" in meta:
        return dict(meta["test_parameters"])
    declared = batch.notebook_parameters(path)
    return {k: v for k, v in FALLBACK.items() if k in declared}


def executed(tmp_path_factory):
    """Run every notebook once (two at a time, one thread each); {notebook stem: Run}."""
    if not _RUNS:
        out = tmp_path_factory.mktemp("reports")
        with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=share_cores,
                                    initargs=(2,)) as pool:
            futs = {p.stem: pool.submit(batch.run_notebook, p, tiny_parameters(p), reports_dir=out, timeout=600)
                    for p in NOTEBOOKS}
            _RUNS.update({k: f.result() for k, f in futs.items()})
        batch.write_index(out)
    return _RUNS


@pytest.fixture(scope="session")
def executed_reports(tmp_path_factory):
    return executed(tmp_path_factory)


def test_the_three_questions_have_notebooks():
    stems = [p.stem for p in NOTEBOOKS]
    for name in ("01-intrinsic-dimension", "02-encoder-spectrum", "03-recall-curves"):
        assert name in stems


def test_learned_compressors_notebook_runs_on_request_only():
    """Notebook 05 trains four autoencoders (minutes): left out of ``make report``, run by ``report 05``."""
    default = [p.stem for p in batch.resolve_notebooks()]
    assert "05-learned-compressors" not in default and "03-recall-curves" in default
    assert [p.stem for p in batch.resolve_notebooks(["05"])] == ["05-learned-compressors"]
    params = batch.notebook_parameters(NOTEBOOKS_DIR / "05-learned-compressors.ipynb")
    assert {"vanilla_ae", "dcec", "hyperae", "nrae"} <= set(params["methods"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin_and_committed_clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == batch.KERNEL_NAME
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    # literals only: every statement assigns a Python literal to one name
    for stmt in ast.parse(tagged[0].source).body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name), \
            ast.unparse(stmt)
        ast.literal_eval(stmt.value)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, "commit notebooks with outputs cleared"
            tree = ast.parse(c.source)
            assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(tree)), \
                "no functions or classes in notebooks: move them into the package"
    # the tiny test parameters are real parameters of the notebook
    assert set(tiny_parameters(path)) <= set(batch.notebook_parameters(path))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_with_tiny_parameters(path, executed_reports):
    run = executed_reports[path.stem]
    assert run.status == "ok", f"{path.name} failed: {run.error} (see {run.ipynb})"
    nb = nbformat.read(str(run.ipynb), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # batch runs never build widgets; figures are exported as HTML with plotly.js inlined once
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    n_figs = sum("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    assert n_figs >= 2
    html = run.html.read_text()
    assert html.count('class="plotly-graph-div"') == n_figs
    # plotly.js once per page: one <script src> to the shared file next to the run folders
    # (html.export_html's default; --standalone inlines it instead)
    srcs = re.findall(r'<script src="(\.\./plotly-[^"]+\.js)"', html)
    assert len(srcs) == 1 and html.count("* plotly.js v") == 0, srcs
    assert (run.html.parent / srcs[0]).resolve().is_file()


@pytest.mark.slow
def test_same_code_parameters_and_seed_give_the_same_headline(executed_reports, tmp_path):
    """Determinism: a second run of notebook 03 (tiny parameters, forced) records the same headline."""
    from rae_explore.report import headline

    path = next(p for p in NOTEBOOKS if p.stem.startswith("03"))
    first = executed_reports[path.stem]
    again = batch.run_notebook(path, tiny_parameters(path), reports_dir=tmp_path, force=True, html=False, timeout=600)
    assert again.status == "ok", again.error
    a, b = headline.read(first.directory), headline.read(again.directory)
    assert a and a == b
