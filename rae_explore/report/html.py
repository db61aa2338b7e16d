"""HTML of the reports: one page per executed notebook (offline), and ``reports/index.html``."""

import html as _html
from pathlib import Path

from ..paths import REPORTS_DIR
from .runs import STATUSES, _now, _write_text, list_runs

# --------------------------------------------------------------------------- HTML
# The lab template minus require.js: the reports load nothing from the network (plotly.js is
# inlined by the notebooks' renderer, and no widget state is saved).
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
"""


def _banner(run):
    """A markdown cell stating the run's parameters and status, put on top of the HTML copy."""
    import nbformat

    params = "\n".join(f"| `{k}` | `{v!r}` | {'set for this run' if k in run.overrides else 'default'} |"
                       for k, v in run.parameters.items())
    status = "**ok**" if run.status == "ok" else f"**{run.status.upper()}**: `{run.error}`"
    text = (f"**Run** `{run.run_id}` · {run.finished or run.started} · {run.duration_s:.1f} s · status {status}\n\n"
            f"| parameter | value | |\n|---|---|---|\n{params}\n")
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": ["rae-explore-run-banner"]})


def export_html(ipynb, html_path, run=None):
    """Export an executed notebook to one self-contained HTML page (written atomically).

    Parameters
    ----------
    ipynb, html_path : path
    run : Run, optional
        Adds a banner with the run's parameters, date and status on top of the page.

    Returns
    -------
    Path
        ``html_path``.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    if run is not None:
        nb.cells.insert(0, _banner(run))
    exporter = HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"rae_report.html.j2": _TEMPLATE})],
                            template_file="rae_report.html.j2")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": Path(ipynb).stem}})
    html_path = Path(html_path)
    _write_text(html_path, body)
    return html_path


_INDEX_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-size:90%}.ok{color:#1a7f37;font-weight:bold}.failed{color:#cf222e;font-weight:bold}
.running{color:#9a6700;font-weight:bold}.set{font-weight:bold}.err{color:#cf222e;font-size:90%;max-width:40em}
"""


def write_index(reports_dir=None):
    """Write ``reports/index.html``: one row per run with notebook, parameters, date, duration, status, links.

    Returns
    -------
    Path
    """
    reports_dir = Path(REPORTS_DIR if reports_dir is None else reports_dir)
    runs = list_runs(reports_dir)
    esc = _html.escape
    rows = []
    for r in runs:
        params = "<br>".join(
            f"<code{' class=set' if k in r.overrides else ''}>{esc(k)}={esc(repr(v))}</code>"
            for k, v in r.parameters.items())
        links = []
        for p, label in ((r.html, "HTML"), (r.ipynb, "ipynb")):
            if p.exists():
                links.append(f'<a href="{esc(r.run_id)}/{esc(p.name)}">{label}</a>')
        size = f"{r.html.stat().st_size / 2**20:.1f} MB" if r.html.exists() else ""
        status = r.status if r.status in STATUSES else "failed"
        label = "running or interrupted" if status == "running" else status
        rows.append(
            f"<tr><td><b>{esc(r.notebook)}</b><br><code>{esc(r.run_id)}</code></td><td>{params}</td>"
            f"<td>{esc(r.started)}</td><td>{r.duration_s:.1f} s</td>"
            f"<td><span class={status}>{label}</span><div class=err>{esc(r.error)}</div></td>"
            f"<td>{' · '.join(links)}<br>{size}</td></tr>")
    n_ok = sum(r.status == "ok" for r in runs)
    body = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>rae_explore reports</title>"
            f"<style>{_INDEX_CSS}</style></head><body><h1>rae_explore reports</h1>"
            f"<p>{len(runs)} run(s), {n_ok} ok, {len(runs) - n_ok} not ok; written {esc(_now())}. "
            "Bold parameters were set for the run; the others are the notebook's defaults. "
            "Every report is self-contained and opens offline.</p>"
            "<table><tr><th>notebook / run id</th><th>parameters</th><th>started</th><th>took</th>"
            f"<th>status</th><th>report</th></tr>{''.join(rows)}</table></body></html>")
    path = reports_dir / "index.html"
    _write_text(path, body)
    return path
