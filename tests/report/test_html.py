"""The exported HTML page as a reader meets it (fast, no browser, no kernel).

A tiny executed notebook is built by hand with nbformat, with the outputs the real notebooks
produce: plotly.js inlined by plotly's notebook renderer, a figure's HTML output (with plotly's CDN
MathJax tag), and a stderr stream of repeated Python warnings carrying this machine's paths.
test_browser.py checks the same pages in a real browser.
"""

import re

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from rae_explore.report.assets import plotlyjs_filename, write_plotlyjs
from rae_explore.report.html import _stderr_summary, _without_paths, export_html, write_index
from rae_explore.report.runs import Run

PLOTLYJS_MARK = f"plotly.js v{get_plotlyjs_version()}"
LOCAL = "/home/someone/private-project/.venv/lib/python3.12/site-packages/rae_explore/index/factory.py"
WARNING = (f"{LOCAL}:165: TrainingSizeWarning: 'IVF64,Flat': the IVF coarse quantizer is trained with "
           "k-means on 540 vectors, 8.4 per centroid; faiss recommends >= 39\n"
           "  check_training_size(index, _n_train_private, index_factory=spec)\n")


def tiny_executed_notebook(path, n_warnings=7):
    """Write an 'executed' notebook whose outputs look like the renderer's; return the path."""
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="pca"))
    init = ('<script type="text/javascript">\nwindow.PlotlyConfig = {MathJaxConfig: \'local\'};</script>\n'
            f'<script type="text/javascript">{get_plotlyjs()}</script>\n')
    figure_html = pio.to_html(fig, include_plotlyjs=False, full_html=False, include_mathjax="cdn")
    out = nbformat.v4.new_output
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A question\n\nProse that stays visible."),
        nbformat.v4.new_code_cell("dataset = 'digits'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("fig = plots.recall_curves(df)\nfig.show()", outputs=[
            out("display_data", data={"text/html": init}),
            out("display_data", data={"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                      "text/html": figure_html}),
            out("stream", name="stdout", text="ran 6 of 6 configurations\n"),
            out("stream", name="stderr", text=WARNING * n_warnings)]),
    ]
    for i, c in enumerate(nb.cells[1:], 1):
        c.execution_count = i
    nbformat.write(nb, str(path))
    return path


def _run(run_dir):
    return Run("tiny--digits--0123456789", "tiny", {"dataset": "digits", "k": 10}, {"dataset": "digits"},
               status="ok", started="2025-01-01T00:00:00+00:00", duration_s=1.0, directory=str(run_dir))


@pytest.fixture
def page(tmp_path):
    """reports/<run>/tiny.html exported from the tiny notebook; (html path, text, reports dir)."""
    reports = tmp_path / "reports"
    run_dir = reports / "tiny--digits--0123456789"
    run_dir.mkdir(parents=True)
    ipynb = tiny_executed_notebook(run_dir / "tiny.ipynb")
    html = export_html(ipynb, run_dir / "tiny.html", _run(run_dir))
    return html, html.read_text(), reports


def test_page_loads_the_shared_plotlyjs_by_relative_path(page):
    html, text, reports = page
    assert PLOTLYJS_MARK not in text, "plotly.js is still inlined"
    assert f'<script src="../{plotlyjs_filename()}"></script>' in text
    shared = reports / plotlyjs_filename()
    assert shared.read_text(encoding="utf-8") == get_plotlyjs()
    assert sorted(p.name for p in reports.glob("plotly-*.js")) == [plotlyjs_filename()]
    # the library is defined in <head>, before the figure's inline Plotly.newPlot
    assert text.index(f'src="../{plotlyjs_filename()}"') < text.index("</head>") < text.index("Plotly.newPlot")
    assert text.count('class="plotly-graph-div"') == 1
    assert html.stat().st_size < 1_000_000


def test_page_loads_nothing_from_the_network(page):
    _, text, _ = page
    assert not re.search(r"""<script[^>]*\bsrc=["']?(https?:)?//""", text), "a <script> from the network"
    assert "cdnjs" not in text and "require.js" not in text


def test_shared_plotlyjs_written_once_for_many_pages(tmp_path):
    reports = tmp_path / "reports"
    pages = []
    for name in ("a", "b"):
        (reports / name).mkdir(parents=True)
        pages.append(export_html(tiny_executed_notebook(reports / name / "nb.ipynb"), reports / name / "nb.html"))
    shared = reports / plotlyjs_filename()
    mtime = shared.stat().st_mtime_ns
    assert write_plotlyjs(reports) == shared and shared.stat().st_mtime_ns == mtime, "rewritten"
    assert [p.name for p in reports.iterdir() if p.is_file()] == [shared.name]
    assert not list(reports.glob(".*.tmp")), "a temporary file was left behind"
    assert "../" + plotlyjs_filename() in pages[1].read_text()


def test_assets_dir_elsewhere_gives_a_working_relative_path(tmp_path):
    page_dir = tmp_path / "out" / "deep" / "run"
    page_dir.mkdir(parents=True)
    html = export_html(tiny_executed_notebook(page_dir / "nb.ipynb"), page_dir / "nb.html",
                       assets_dir=tmp_path / "out")
    assert f'src="../../{plotlyjs_filename()}"' in html.read_text()
    assert (tmp_path / "out" / plotlyjs_filename()).exists()


def test_standalone_page_inlines_plotlyjs_once(tmp_path):
    (tmp_path / "r").mkdir()
    html = export_html(tiny_executed_notebook(tmp_path / "r" / "nb.ipynb"), tmp_path / "r" / "nb.html",
                       standalone=True)
    text = html.read_text()
    assert text.count(PLOTLYJS_MARK) == 1
    assert not list(tmp_path.rglob("plotly-*.js")), "standalone pages write no shared file"
    assert 'src="../plotly' not in text
    assert text.index(PLOTLYJS_MARK) < text.index("</head>") < text.index("Plotly.newPlot")


def test_reader_mode_hides_code_behind_a_toggle(page):
    _, text, _ = page
    assert re.search(r"body:not\(\.rae-show-code\) \.jp-CodeCell \.jp-Cell-inputWrapper", text)
    assert re.search(r'<button[^>]*id="rae-code-toggle"[^>]*>Show code</button>', text)
    assert "'Hide code'" in text and "classList.toggle('rae-show-code')" in text
    # the code is in the page (to show), the banner and prose are not hidden
    assert "recall_curves" in text
    assert "rae-explore-run-banner" in text and "Prose that stays visible." in text
    assert "set for this run" in text


def test_stderr_is_summarised_once_without_paths(page):
    _, text, _ = page
    assert "_n_train_private" not in text and "check_training_size(" not in text
    assert "/home/someone" not in text and "site-packages" not in text and "private-project" not in text
    note = re.search(r'<div class="rae-warnings">(.*?)</div>', text, re.S)
    assert note, "no warnings note"
    assert "TrainingSizeWarning</b> (x7)" in note.group(1)
    assert "8.4 per centroid" in note.group(1)
    assert text.count("8.4 per centroid") == 1, "warning repeated"
    assert text.index('class="rae-warnings"') < text.index("Prose that stays visible.")
    assert "ran 6 of 6 configurations" in text, "stdout stays"


def test_the_executed_notebook_is_not_changed(tmp_path):
    (tmp_path / "r").mkdir()
    ipynb = tiny_executed_notebook(tmp_path / "r" / "nb.ipynb")
    before = ipynb.read_bytes()
    export_html(ipynb, tmp_path / "r" / "nb.html")
    assert ipynb.read_bytes() == before


def test_a_page_without_warnings_has_no_note(tmp_path):
    (tmp_path / "r").mkdir()
    html = export_html(tiny_executed_notebook(tmp_path / "r" / "nb.ipynb", n_warnings=0), tmp_path / "r" / "nb.html")
    assert 'class="rae-warnings"' not in html.read_text()


def test_stderr_summary_groups_and_strips_paths():
    texts = [WARNING * 3, "/tmp/x/y.py:3: UserWarning: see C:\\Users\\me\\data\\a.fvecs\n  warn(_x)\n",
             "WARNING clustering 450 points to 64 centroids\nsecond line from /opt/app/lib.so\n", WARNING]
    summary = {k: (n, m) for k, n, m in _stderr_summary(texts)}
    assert summary["TrainingSizeWarning"][0] == 4
    assert summary["UserWarning"] == (1, "see a.fvecs")
    assert summary["stderr"] == (2, "WARNING clustering 450 points to 64 centroids")
    assert _without_paths(f"read {LOCAL} and ~/data/x.npz, ratio 1/2") == "read factory.py and x.npz, ratio 1/2"


def test_index_says_the_pages_share_plotlyjs(page):
    _, _, reports = page
    assert plotlyjs_filename() in write_index(reports).read_text()
