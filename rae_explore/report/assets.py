"""Files the HTML reports share: one copy of plotly.js per reports folder, next to the pages.

plotly.js is about 4.8 MB. Inlined in every page (what plotly's notebook renderer does) each
report weighs 5-6 MB; shared, a page weighs its figures' data and loads the library with a
relative path, so it still opens offline from disk (``file://``)::

    reports/
      plotly-4.1.1.min.js                 written once, from the installed plotly package
      03-recall-curves--digits--1a2b3c/
        03-recall-curves.html             <script src="../plotly-4.1.1.min.js">

The file name carries plotly.js's version: pages exported by an older plotly keep the copy they
were written against, and a new version never overwrites an old one in place.
"""

import os
from pathlib import Path
from urllib.parse import quote

from ..atomic import atomic_write

PLOTLY_CONFIG_JS = "window.PlotlyConfig = {MathJaxConfig: 'local'};"
"""What plotly's notebook renderer sets before plotly.js loads; the pages set it the same way."""


def plotlyjs_filename():
    """``plotly-<plotly.js version>.min.js``, the shared file's name for the installed plotly."""
    from plotly.offline import get_plotlyjs_version

    return f"plotly-{get_plotlyjs_version()}.min.js"


def write_plotlyjs(directory):
    """Write the installed plotly.js into ``directory`` once (atomically) and return its path.

    An existing file of the right size is kept, so concurrent exports into one reports folder
    write it at most once each and never leave a truncated copy.

    Parameters
    ----------
    directory : path
        The reports folder (created if missing).

    Returns
    -------
    Path
        ``directory / plotlyjs_filename()``.
    """
    from plotly.offline import get_plotlyjs

    path = Path(directory) / plotlyjs_filename()
    data = get_plotlyjs().encode("utf-8")
    if path.is_file() and path.stat().st_size == len(data):
        return path
    with atomic_write(path, "wb") as f:
        f.write(data)
    return path


def plotlyjs_script(page, assets_dir=None, standalone=False):
    """The ``<script>`` tags that define ``window.Plotly`` in the page's ``<head>``.

    Parameters
    ----------
    page : path
        Where the HTML page will be written.
    assets_dir : path, optional
        Where the shared plotly.js goes; default the folder above the page's folder (the
        reports folder, for ``reports/<run-id>/<notebook>.html``).
    standalone : bool
        Inline plotly.js instead (one self-contained page, ~4.8 MB heavier); nothing is written.

    Returns
    -------
    str
        HTML for the page's head. Unless ``standalone``, the shared file exists afterwards.
    """
    config = f"<script>{PLOTLY_CONFIG_JS}</script>\n"
    if standalone:
        from plotly.offline import get_plotlyjs

        return f"{config}<script>{get_plotlyjs()}</script>\n"
    page = Path(page)
    assets_dir = page.resolve().parent.parent if assets_dir is None else Path(assets_dir).resolve()
    js = write_plotlyjs(assets_dir)
    src = quote(Path(os.path.relpath(js, page.resolve().parent)).as_posix())  # a URL: spaces, '#' escaped
    return f'{config}<script src="{src}"></script>\n'
