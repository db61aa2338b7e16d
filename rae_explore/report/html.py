"""HTML of the reports: one page per executed notebook (offline), and ``reports/index.html``.

A page is the executed notebook as a reader meets it:

- **light**: plotly.js is not inlined; the page loads the reports folder's one shared copy by a
  relative path (see :mod:`rae_explore.report.assets`), so it weighs its figures' data and still
  opens offline from disk. ``standalone=True`` inlines plotly.js instead (one page to mail alone);
- **reader mode**: code cells are hidden until the "Show code" button is pressed; the run's
  parameter table, the prose and the outputs stay;
- **no warning walls**: what the kernel wrote to stderr (Python warnings) is not shown raw but
  summarised once near the top, one line per warning category, without this machine's paths;
- **nothing from the network**: no require.js, MathJax or mermaid from a CDN (the notebooks
  typeset no maths), and the CDN MathJax tags plotly adds to each figure are dropped.

Only the HTML copy changes; the executed ``.ipynb`` is read, never rewritten.
"""

import html as _html
import re
from collections import Counter
from pathlib import Path

from ..paths import REPORTS_DIR
from .assets import plotlyjs_filename, plotlyjs_script
from .runs import STATUSES, now_iso, write_text, list_runs

# --------------------------------------------------------------------------- HTML
# The lab template minus everything fetched from a CDN (require.js, MathJax, mermaid); plotly.js
# takes require.js's place in <head>, so window.Plotly exists before the figures' inline
# Plotly.newPlot calls run. Reader mode: CSS hides code inputs unless <body> has
# .rae-show-code, which the toggle button sets. The warnings note goes under the run's banner.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{{ resources.rae_head_js }}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.rae_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}
<button type="button" id="rae-code-toggle" class="rae-code-toggle" aria-pressed="false">Show code</button>
{% if not resources.rae_has_banner %}{{ resources.rae_notes }}{% endif %}
{%- endblock body_header -%}
{%- block markdowncell -%}{{ super() }}
{% if 'rae-explore-run-banner' in cell.metadata.get('tags', []) %}{{ resources.rae_notes }}{% endif %}
{%- endblock markdowncell -%}
{%- block footer_js -%}<script>{{ resources.rae_js }}</script>{%- endblock footer_js -%}
"""

_READER_CSS = """
body:not(.rae-show-code) .jp-CodeCell .jp-Cell-inputWrapper,
body:not(.rae-show-code) .jp-CodeCell.jp-mod-noOutputs { display: none !important; }
body:not(.rae-show-code) .jp-OutputPrompt { visibility: hidden; }
.rae-code-toggle { position: fixed; right: 1em; bottom: 1em; z-index: 1000; padding: .45em .9em;
  font: 14px system-ui, sans-serif; color: #fff; background: #24292f; border: 0; border-radius: 4px;
  cursor: pointer; opacity: .85; }
.rae-code-toggle:hover, .rae-code-toggle:focus { opacity: 1; }
.rae-warnings { margin: .5em 0 .5em var(--jp-cell-prompt-width, 64px); padding: .5em .8em;
  font: 13px/1.4 system-ui, sans-serif; background: #fff8c5; border-left: 4px solid #d4a72c; }
.rae-warnings p { margin: .2em 0; }
@media print { .rae-code-toggle { display: none; } }
"""

_READER_JS = """
(function () {
  var button = document.getElementById('rae-code-toggle');
  if (!button) { return; }
  button.addEventListener('click', function () {
    var shown = document.body.classList.toggle('rae-show-code');
    button.textContent = shown ? 'Hide code' : 'Show code';
    button.setAttribute('aria-pressed', shown ? 'true' : 'false');
    window.dispatchEvent(new Event('resize'));  // plotly figures re-measure their width
  });
})();
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


# --------------------------------------------------------------------------- outputs of the HTML copy
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.S | re.I)
_REMOTE_SCRIPT = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script\s*>""", re.I)
_INLINE_LIBRARY_BYTES = 100_000  # a <script> this long in an output is a library (plotly.js), not a figure


def _strip_scripts(text):
    """An output's HTML without inlined plotly.js and without scripts loaded from the network."""
    text = _REMOTE_SCRIPT.sub("", text)
    return _SCRIPT.sub(lambda m: "" if len(m.group(1)) > _INLINE_LIBRARY_BYTES and "Plotly" in m.group(1)
                       else m.group(0), text)


def _only_plotly_setup(text):
    """True if nothing but plotly's set-up scripts (``window.PlotlyConfig``, MathJax config) is left."""
    rest = _SCRIPT.sub(lambda m: "" if "PlotlyConfig" in m.group(1) or "MathJax" in m.group(1) else m.group(0), text)
    return not rest.strip()


# an absolute path (POSIX, ~/..., or C:\...) of at least two components; replaced by its last one
_PATH = re.compile(r"""(?<![\w.:/\\])(?:~|[A-Za-z]:)?[/\\](?:[^\s'"<>:/\\]+[/\\])+([^\s'"<>:/\\]*)""")
# a line as warnings.showwarning prints it: "<file>:<line>: <Category>: <message>"
_WARNING_LINE = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+): (?P<category>[A-Za-z_][\w.]*): (?P<message>.*)$")
_MESSAGE_CHARS = 300


def _without_paths(text):
    """``text`` with absolute paths reduced to their last component (no paths of this machine)."""
    return _PATH.sub(lambda m: m.group(1) or "…", text)


def _stderr_summary(texts):
    """[(category, count, first message)] of stderr texts: Python warnings by category, other lines
    together; the source line warnings print under themselves (private names) is dropped."""
    counts, first = Counter(), {}
    for text in texts:
        in_warning = False
        for line in text.splitlines():
            m = _WARNING_LINE.match(line)
            if m:
                key, message, in_warning = m["category"].rsplit(".", 1)[-1], m["message"], True
            elif in_warning and line[:1] in (" ", "\t"):
                continue  # the warning's source line
            elif not line.strip():
                continue
            else:
                key, message, in_warning = "stderr", line.strip(), False
            counts[key] += 1
            first.setdefault(key, message)
    out = []
    for key, n in counts.items():
        message = _without_paths(first[key])
        if len(message) > _MESSAGE_CHARS:
            message = message[:_MESSAGE_CHARS - 1] + "…"
        out.append((key, n, message))
    return out


def _clean_outputs(nb):
    """Prepare an executed notebook's outputs for the page, in place; return the stderr summary.

    Drops inlined plotly.js (the page head loads it), remote ``<script src>`` tags, and stderr
    streams (summarised instead).
    """
    stderr = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                stderr.append(out.get("text", ""))
                continue
            data = out.get("data", {})
            if isinstance(data.get("text/html"), (str, list)):
                text = data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"])
                text = _strip_scripts(text)
                if _only_plotly_setup(text) and set(data) <= {"text/html", "text/plain"}:
                    continue
                data["text/html"] = text
            kept.append(out)
        cell.outputs = kept
    return _stderr_summary(stderr)


def _notes_html(summary):
    """The short note on top of a page listing the warnings the run printed (empty if none)."""
    if not summary:
        return ""
    esc = _html.escape
    lines = "".join(
        f"<p><b>{esc(key)}</b> (x{n}): {esc(message)}</p>" if key != "stderr"
        else f"<p><b>other messages on stderr</b> ({n} line{'s' * (n != 1)}), first: {esc(message)}</p>"
        for key, n, message in summary)
    return f'<div class="rae-warnings"><p><b>Warnings while running</b> (shown once, not in the cells):</p>{lines}</div>'


def export_html(ipynb, html_path, run=None, *, standalone=False, assets_dir=None):
    """Export an executed notebook to an HTML page that opens offline (written atomically).

    Parameters
    ----------
    ipynb, html_path : path
        The executed notebook (only read) and the page to write.
    run : Run, optional
        Adds a banner with the run's parameters, date and status on top of the page.
    standalone : bool
        Inline plotly.js (~4.8 MB) so that the page works alone (to mail it); by default the page
        loads the shared ``plotly-<version>.min.js`` of ``assets_dir`` by a relative path.
    assets_dir : path, optional
        Where the shared plotly.js is written once; default the folder above the page's folder
        (the reports folder, for ``reports/<run-id>/<notebook>.html``). Not used if ``standalone``.

    Returns
    -------
    Path
        ``html_path``.

    Examples
    --------
    >>> export_html("reports/r1/03-recall-curves.ipynb", "reports/r1/03-recall-curves.html")  # doctest: +SKIP
    PosixPath('reports/r1/03-recall-curves.html')
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    html_path = Path(html_path)
    nb = nbformat.read(str(ipynb), as_version=4)
    summary = _clean_outputs(nb)
    if run is not None:
        nb.cells.insert(0, _banner(run))
    exporter = HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"rae_report.html.j2": _TEMPLATE})],
                            template_file="rae_report.html.j2")
    resources = {"metadata": {"name": Path(ipynb).stem},
                 "rae_head_js": plotlyjs_script(html_path, assets_dir, standalone=standalone),
                 "rae_css": _READER_CSS, "rae_js": _READER_JS, "rae_notes": _notes_html(summary),
                 "rae_has_banner": run is not None}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    write_text(html_path, body)
    return html_path


_INDEX_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-size:90%}.ok{color:#1a7f37;font-weight:bold}.failed{color:#cf222e;font-weight:bold}
.running{color:#9a6700;font-weight:bold}.set{font-weight:bold}.err{color:#cf222e;font-size:90%;max-width:40em}
"""


def write_index(reports_dir=None):
    """Write ``reports/index.html``: what each run found, and how its runs compare.

    One row per run: notebook and run id, its headline results (``headline.json``, recorded by
    the notebook with :func:`rae_explore.report.headline.record`; every key is shown), its
    parameters, date, duration, status and links. Above the table, for each notebook run several
    times with different parameters (a ``--grid``), one figure compares its runs (e.g. the best
    top-10 against the dimension, one line per dataset, from ``best_by_dim``), and a list says
    what a time budget skipped (headline key ``skipped``). The figures load the reports folder's
    shared plotly.js by a relative path (:mod:`rae_explore.report.assets`): the index opens
    offline and does not inline the 4.8 MB library.

    Returns
    -------
    Path
    """
    reports_dir = Path(REPORTS_DIR if reports_dir is None else reports_dir)
    path = reports_dir / "index.html"
    runs = list_runs(reports_dir)
    heads = {r.run_id: _read_headline(r.directory) for r in runs}
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
            f"<tr id=\"{esc(r.run_id)}\"><td><b>{esc(r.notebook)}</b><br><code>{esc(r.run_id)}</code></td>"
            f"<td class=head>{_headline_html(heads[r.run_id])}</td><td>{params}</td>"
            f"<td>{esc(r.started)}</td><td>{r.duration_s:.1f} s</td>"
            f"<td><span class={status}>{label}</span><div class=err>{esc(r.error)}</div></td>"
            f"<td>{' · '.join(links)}<br>{size}</td></tr>")
    figures = _comparison_figures(runs, heads)
    skipped = _skipped_html(runs, heads)
    head_js = plotlyjs_script(path, reports_dir) if figures else ""
    n_ok = sum(r.status == "ok" for r in runs)
    body = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>rae_explore reports</title>"
            f"<style>{_INDEX_CSS}{_INDEX_EXTRA_CSS}</style>{head_js}</head><body><h1>rae_explore reports</h1>"
            f"<p>{len(runs)} run(s), {n_ok} ok, {len(runs) - n_ok} not ok; written {esc(now_iso())}. "
            "Bold parameters were set for the run; the others are the notebook's defaults. "
            f"Every report opens offline from this folder (the pages share {esc(plotlyjs_filename())}).</p>"
            + (f"<h2>Runs compared</h2>{''.join(figures)}" if figures else "")
            + skipped
            + "<h2>Runs</h2><table><tr><th>notebook / run id</th><th>headline results</th><th>parameters</th>"
            f"<th>started</th><th>took</th><th>status</th><th>report</th></tr>{''.join(rows)}</table></body></html>")
    write_text(path, body)
    return path


_INDEX_EXTRA_CSS = """
h2{margin-top:1.5em}.head{font-size:90%;max-width:32em}.head div{margin:.1em 0}.fig{max-width:60em;margin-bottom:1em}
.skipped li{margin:.2em 0}.muted{color:#666}
"""
_AXIS_TITLES = {"best_by_dim": "top-10 of the best method (hover: which)", "recommended_dim": "recommended dimension",
                "intrinsic_dimension": "intrinsic dimension estimate"}
_MAX_ITEMS = 8  # entries of a list or dict shown in a headline cell before "… (+n more)"


def _read_headline(directory):
    """A run's headline dict ({} if none); imported here so the index works without headline.json."""
    from .headline import read

    return read(directory)


def _scalar_text(v):
    """A headline value that is not a container, as short text: floats to 3 significant digits."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return str(v)


def _value_text(v, depth=0):
    """A headline value as one line of text: lists comma-joined, dicts as ``key: value`` pairs."""
    if isinstance(v, dict):
        items = list(v.items())
        if _numeric_keys(v):
            items.sort(key=lambda kv: float(kv[0]))  # headline.json sorts keys as text: "16" < "4"
        items = [f"{k}: {_value_text(x, depth + 1)}" for k, x in items[:_MAX_ITEMS]]
        more = len(v) - _MAX_ITEMS
        text = ", ".join(items) + (f", … (+{more} more)" if more > 0 else "")
        return f"{{{text}}}" if depth else text
    if isinstance(v, (list, tuple)):
        if depth and all(not isinstance(x, (dict, list, tuple)) for x in v):
            return " ".join(_scalar_text(x) for x in v)  # e.g. best_by_dim's [method, top-10]
        items = [_value_text(x, depth + 1) for x in v[:_MAX_ITEMS]]
        more = len(v) - _MAX_ITEMS
        return ", ".join(items) + (f", … (+{more} more)" if more > 0 else "")
    return _scalar_text(v)


def _numeric_keys(d):
    """True if every key of dict ``d`` reads as a number (dimensions, say)."""
    try:
        [float(k) for k in d]
    except (TypeError, ValueError):
        return False
    return bool(d)


def _headline_html(head):
    """The headline cell of a run's row: one line per key, scalars first, ``skipped`` as a count."""
    esc = _html.escape
    keys = sorted(head, key=lambda k: (k == "skipped", isinstance(head[k], (dict, list, tuple))))
    lines = []
    for k in keys:
        v = head[k]
        if k == "skipped":
            if v:
                n = len(v) if isinstance(v, (list, tuple)) else 1
                lines.append(f'<div class=muted>skipped by a budget: <a href="#skipped">{n}</a></div>')
            continue
        lines.append(f"<div><b>{esc(k.replace('_', ' '))}</b>: {esc(_value_text(v))}</div>")
    return "".join(lines)


def _skipped_html(runs, heads):
    """The list of what each run's time budget skipped (headline key ``skipped``); empty if nothing was."""
    esc = _html.escape
    items = []
    for r in runs:
        skipped = heads[r.run_id].get("skipped")
        if not skipped:
            continue
        skipped = skipped if isinstance(skipped, (list, tuple)) else [skipped]
        items.append(f'<li><a href="#{esc(r.run_id)}"><code>{esc(r.run_id)}</code></a>: '
                     f"{esc(', '.join(_value_text(s, 1) for s in skipped))}</li>")
    if not items:
        return ""
    return (f"<h2 id=skipped>Skipped by a time budget</h2><p>Configurations these runs did not reach; "
            f"run them again with a larger budget to fill them in.</p><ul class=skipped>{''.join(items)}</ul>")


def _number(v):
    """``v`` as a finite float, or None (bools are not numbers here)."""
    import math

    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _point(v):
    """``(label, y)`` of a headline entry: a number, or a list such as ``[method, top10]``; None otherwise."""
    if _number(v) is not None:
        return "", _number(v)
    if isinstance(v, (list, tuple)) and v and _number(v[-1]) is not None:
        return " ".join(str(x) for x in v[:-1]), _number(v[-1])
    return None


def _series_kind(values):
    """How one headline key compares across runs: ``"curve"`` (dicts keyed by numbers, e.g.
    ``best_by_dim``), ``"bars"`` (dicts keyed by names, e.g. ``intrinsic_dimension``), ``"scalar"``
    (a number, e.g. ``recommended_dim``), or None."""
    if all(isinstance(v, dict) and v and all(_point(x) is not None for x in v.values()) for v in values):
        return "curve" if all(_numeric_keys(v) for v in values) else "bars"
    if all(_number(v) is not None for v in values):
        return "scalar"
    return None


def _run_labels(runs):
    """Short names of a set of runs of one notebook: the parameters that differ between them."""
    keys = [k for k in runs[0].parameters
            if len({repr(r.parameters.get(k)) for r in runs}) > 1]
    return [", ".join(f"{k}={r.parameters.get(k)}" for k in keys) or r.run_id for r in runs]


def _comparison_figures(runs, heads):
    """One figure (HTML, without plotly.js) per notebook with several finished runs that recorded
    a comparable headline: the first key that draws as curves, else as bars, else as numbers."""
    import plotly.graph_objects as go

    from .plots.base import CONFIG, layout

    esc = _html.escape
    by_notebook = {}
    for r in sorted(runs, key=lambda r: r.started):
        if r.status == "ok" and heads[r.run_id]:
            by_notebook.setdefault(r.notebook, []).append(r)
    out = []
    for i, (notebook, group) in enumerate(sorted(by_notebook.items())):
        if len(group) < 2:
            continue
        common = set.intersection(*(set(heads[r.run_id]) for r in group)) - {"skipped"}
        kinds = {k: _series_kind([heads[r.run_id][k] for r in group]) for k in sorted(common)}
        key = next((k for rank in ("curve", "bars", "scalar") for k in kinds if kinds[k] == rank), None)
        if key is None:
            continue
        labels = _run_labels(group)
        title = f"{notebook}: {key.replace('_', ' ')} across {len(group)} runs"
        fig = go.Figure()
        if kinds[key] == "scalar":
            fig.add_bar(x=labels, y=[_number(heads[r.run_id][key]) for r in group])
            layout(fig, title, None, _AXIS_TITLES.get(key, key.replace("_", " ")))
        else:
            for label, r in zip(labels, group):
                items = heads[r.run_id][key].items()
                if kinds[key] == "curve":
                    items = sorted(items, key=lambda kv: float(kv[0]))
                x = [float(k) if kinds[key] == "curve" else k for k, _ in items]
                points = [_point(v) for _, v in items]
                text = [p[0] for p in points]
                trace = dict(x=x, y=[p[1] for p in points], name=label, text=text,
                             hovertemplate=f"{esc(label)}<br>%{{x}}: %{{y:.4g}} %{{text}}<extra></extra>")
                if kinds[key] == "curve":
                    fig.add_scatter(mode="lines+markers", **trace)
                else:
                    fig.add_bar(**trace)
            xtitle = "dimension" if kinds[key] == "curve" else None
            layout(fig, title, xtitle, _AXIS_TITLES.get(key, key.replace("_", " ")))
            if kinds[key] == "curve":
                fig.update_xaxes(type="log", tickvals=sorted({x for t in fig.data for x in t.x}))
        out.append(f"<div class=fig>{fig.to_html(include_plotlyjs=False, full_html=False, config=CONFIG, div_id=f'compare-{i}')}</div>")
    return out
