"""The exported HTML reports render in a real browser with the network off; the live widgets work in JupyterLab.

Headless Chromium (Debian ``chromium`` + ``chromium-driver``; ``make test`` installs them through
scripts/ensure_chromium.sh) opens every report exported by test_notebooks.py from disk, with
the network emulated offline *and* a proxy to nowhere, and the test checks that the pages' shared
plotly.js (``reports/plotly-<version>.min.js``, loaded by relative path) defined ``window.Plotly``,
that every plotly figure was drawn (``.main-svg`` elements, non-empty traces), that a dropdown
still switches traces (plotly's own menus work in static HTML), that code cells are hidden until
the "Show code" button is clicked, and saves a screenshot into the test's tmp dir. The same is
checked on a hand-made page (test_html.py's tiny notebook), exported shared and standalone.
A second test starts JupyterLab on a local port, runs a recall explorer in it, changes k and
checks that the same figure was redrawn (the ipywidgets half of the job).
"""

import os
import shutil
import time

import pytest

from test_html import tiny_executed_notebook
from test_notebooks import NOTEBOOKS, executed  # noqa: F401 - shares the session's notebook runs

try:
    from selenium import webdriver
except ImportError:
    webdriver = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ON_CI = os.environ.get("CI", "").strip().lower() == "true"
pytestmark = pytest.mark.slow


def _unavailable(reason):
    """No usable browser: on CI (CI=true) the tests fail, so a missing Chromium cannot pass unnoticed; else skip."""
    if ON_CI:
        pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def _browser_available():
    if webdriver is None:
        _unavailable("selenium is not installed (it is in the [test] extra)")
    if not (CHROMIUM and CHROMEDRIVER):
        missing = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not p]
        _unavailable(f"{' and '.join(missing)} not on PATH: needs Debian chromium + chromium-driver "
                     "(run `sh scripts/ensure_chromium.sh`)")


def _start_chrome(opts):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    try:
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except (WebDriverException, OSError) as e:
        _unavailable(f"chromium/chromedriver could not be started ({CHROMIUM}, {CHROMEDRIVER}): "
                     f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}")

_FIGURES_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(function (gd) {
  return {traces: (gd.data || []).length,
          drawn: gd.querySelectorAll('.main-svg').length,
          menus: gd.querySelectorAll('.updatemenu-header').length,
          sliders: gd.querySelectorAll('.slider-container').length,
          // points plotly computed for drawing (x/y arrive base64-typed, so count calcdata, not data)
          points: (gd.calcdata || []).reduce(function (a, cd) { return a + (cd ? cd.length : 0); }, 0)};
});
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1280,1800",
                # belt and braces with the offline emulation below: any request goes nowhere
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        opts.add_argument(arg)
    driver = _start_chrome(opts)
    driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _wait_for_figures(driver, expected, timeout=60):
    t0 = time.time()
    while True:
        figs = driver.execute_script(_FIGURES_JS)
        if len(figs) >= expected and all(f["drawn"] > 0 for f in figs):
            return figs
        if time.time() - t0 > timeout:
            return figs
        time.sleep(0.5)


_CODE_SHOWN_JS = """
return Array.from(document.querySelectorAll('.jp-CodeCell .jp-Cell-inputWrapper')).map(function (e) {
  return e.getBoundingClientRect().height > 0 && window.getComputedStyle(e).display !== 'none';
});
"""


def _check_code_toggle(driver):
    """Code inputs are hidden on load; the toggle shows them all and hides them again."""
    from selenium.webdriver.common.by import By

    shown = driver.execute_script(_CODE_SHOWN_JS)
    assert shown and not any(shown), f"code cells visible before the toggle: {shown}"
    button = driver.find_element(By.ID, "rae-code-toggle")
    assert button.is_displayed() and button.text == "Show code"
    button.click()
    time.sleep(0.3)
    assert all(driver.execute_script(_CODE_SHOWN_JS)), "the toggle did not show every code cell"
    assert button.text == "Hide code"
    button.click()
    time.sleep(0.3)
    assert not any(driver.execute_script(_CODE_SHOWN_JS)) and button.text == "Show code"


@pytest.mark.parametrize("standalone", [False, True], ids=["shared-plotlyjs", "standalone"])
def test_tiny_page_renders_offline_and_toggles_code(standalone, browser, tmp_path):
    from rae_explore.report.assets import plotlyjs_filename
    from rae_explore.report.html import export_html

    run_dir = tmp_path / "reports" / "tiny--0123456789"
    run_dir.mkdir(parents=True)
    html = export_html(tiny_executed_notebook(run_dir / "tiny.ipynb"), run_dir / "tiny.html", standalone=standalone)
    browser.get(html.as_uri())
    figs = _wait_for_figures(browser, 1)
    assert browser.execute_script("return typeof window.Plotly") == "object", "plotly.js did not load offline"
    if not standalone:  # then the page's only copy of plotly.js is the shared file, by relative path
        srcs = browser.execute_script("return Array.from(document.scripts).map(function (s) { return s.src; })")
        assert (tmp_path / "reports" / plotlyjs_filename()).as_uri() in srcs, srcs
        assert "plotly.js v" not in html.read_text()
    assert len(figs) == 1 and figs[0]["drawn"] >= 1 and figs[0]["points"] == 3, figs
    assert browser.find_element("css selector", ".rae-warnings").is_displayed()
    _check_code_toggle(browser)
    assert browser.save_screenshot(str(tmp_path / "tiny.png"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_report_renders_offline(path, browser, tmp_path_factory, tmp_path):
    run = executed(tmp_path_factory)[path.stem]
    if run.status != "ok":
        pytest.fail(f"{path.stem} did not execute ({run.error}); see test_notebooks")
    expected = run.html.read_text().count('class="plotly-graph-div"')
    assert expected >= 2
    browser.get(run.html.as_uri())
    figs = _wait_for_figures(browser, expected)
    assert browser.execute_script("return typeof window.Plotly") == "object", "plotly.js did not load offline"
    assert len(figs) == expected, f"{len(figs)} of {expected} figures initialised"
    for i, f in enumerate(figs):
        assert f["drawn"] >= 1, f"figure {i} has no .main-svg: not rendered"
        assert f["traces"] >= 1 and f["points"] >= 1, f"figure {i} is empty: {f}"
    shot = tmp_path / f"{path.stem}.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert run.html.stat().st_size < 1_000_000, "plotly.js inlined again? pages share one copy"
    _check_code_toggle(browser)

    # plotly's own dropdowns work without Python: real clicks on the first menu's second entry
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with_menu = [i for i, f in enumerate(figs) if f["menus"]]
    if with_menu:
        gd = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")[with_menu[0]]
        visible = "return arguments[0].data.map(function (t) { return t.visible; })"
        before = browser.execute_script(visible, gd)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", gd)
        time.sleep(0.3)
        ActionChains(browser).move_to_element(gd.find_element(By.CSS_SELECTOR, ".updatemenu-header-group")) \
            .click().perform()
        time.sleep(0.5)
        entries = gd.find_elements(By.CSS_SELECTOR, ".updatemenu-dropdown-button")
        assert len(entries) >= 2, "the dropdown did not open"
        ActionChains(browser).move_to_element(entries[1]).click().perform()
        time.sleep(0.5)
        after = browser.execute_script(visible, gd)
        assert after != before, "the dropdown did not switch traces"
        browser.save_screenshot(str(tmp_path / f"{path.stem}-menu.png"))


# --------------------------------------------------------------------------- live widgets in JupyterLab
def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free local port over ``tmp_path`` (no token); yields its URL."""
    import os
    import subprocess
    import sys
    import urllib.request

    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path}",
           "--ServerApp.open_browser=False", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() - t0 > 60:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_live_explorer_updates_in_place_in_jupyterlab(jupyterlab, tmp_path):
    """The widgets' job: in JupyterLab, a control change recomputes and redraws the same figure."""
    import nbformat
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from rae_explore.report import plots, widgets\nplots.init_notebook()\n"
        "ex = widgets.show(widgets.recall_explorer, 'digits', methods=('pca', 'rp'), dims=(2, 4, 8), ks=(1, 10),\n"
        "                  dataset_kwargs={'n_samples': 400})")]
    nbformat.write(nb, str(tmp_path / "live.ipynb"))

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1100",
                "--proxy-server=http://127.0.0.1:9"):  # localhost goes direct, anything else nowhere
        opts.add_argument(arg)
    driver = _start_chrome(opts)
    try:
        driver.get(f"{jupyterlab}/lab/tree/live.ipynb")
        t0 = time.time()
        while not driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .jp-InputArea-editor"):
            assert time.time() - t0 < 90, "JupyterLab did not open the notebook"
            time.sleep(1)
        time.sleep(3)  # kernel start
        driver.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .jp-InputArea-editor").click()
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        title_js = ("var g = document.querySelector('.jp-OutputArea .js-plotly-plot');"
                    "return g && g.layout && g.layout.yaxis.title ? g.layout.yaxis.title.text : null;")
        t0 = time.time()
        while driver.execute_script(title_js) is None:
            assert time.time() - t0 < 120, "the explorer's FigureWidget did not render"
            time.sleep(1)
        assert driver.execute_script(title_js) == "top-10 accuracy"
        plot_id = driver.execute_script("return document.querySelector('.jp-OutputArea .js-plotly-plot').id")
        k = next(s for s in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea select")
                 if [o.text for o in Select(s).options] == ["1", "10"])
        Select(k).select_by_visible_text("1")
        t0 = time.time()
        while driver.execute_script(title_js) != "top-1 accuracy":
            assert time.time() - t0 < 60, "changing k did not update the figure"
            time.sleep(0.5)
        # updated in place: still one figure, the same element
        assert len(driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .js-plotly-plot")) == 1
        assert driver.execute_script("return document.querySelector('.jp-OutputArea .js-plotly-plot').id") == plot_id
        status = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .widget-html")]
        assert any("updated in" in t for t in status), status
        driver.save_screenshot(str(tmp_path / "jupyterlab-live.png"))
    finally:
        driver.quit()


def test_index_comparison_figure_renders_offline(browser, tmp_path):
    """A grid's runs get one comparison figure on reports/index.html, drawn from the shared plotly.js."""
    from rae_explore.report import batch, headline
    from rae_explore.report.runs import Run

    out = tmp_path / "reports"
    for i, ds in enumerate(("sift5k", "digits")):
        rid = f"03-recall--{ds}--012345678{i}"
        run = Run(rid, "03-recall", {"dataset": ds}, {"dataset": ds}, status="ok", started=f"2026-01-01T00:00:0{i}",
                  finished=f"2026-01-01T00:01:0{i}", duration_s=10.0, directory=str(out / rid))
        (out / rid).mkdir(parents=True)
        run.save()
        headline.record(run.directory, best_by_dim={"4": ["pca", 0.3 + i / 10], "8": ["rae", 0.5], "16": ["rae", 0.7]})
    index = batch.write_index(out)
    browser.get(index.as_uri())
    figs = _wait_for_figures(browser, 1)
    assert browser.execute_script("return typeof window.Plotly") == "object", "the shared plotly.js did not load"
    assert len(figs) == 1 and figs[0]["drawn"] >= 1 and figs[0]["traces"] == 2 and figs[0]["points"] == 6, figs
