"""The exported HTML reports render in a real browser with the network off.

Headless Chromium (Debian ``chromium`` + ``chromium-driver``; ``make test`` installs them through
scripts/ensure_chromium.sh) opens every report exported by test_notebooks.py from disk, with
the network emulated offline *and* a proxy to nowhere, and the test checks that every plotly
figure was drawn (``.main-svg`` elements, non-empty traces), that a dropdown still switches traces
(plotly's own menus work in static HTML), and saves a screenshot into the test's tmp dir.
"""

import shutil
import time

import pytest

from test_notebooks import NOTEBOOKS, executed  # noqa: F401 - shares the session's notebook runs

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the [test] extra")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Debian chromium + chromium-driver (run `sh scripts/ensure_chromium.sh`)"),
]

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
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1280,1800",
                # belt and braces with the offline emulation below: any request goes nowhere
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
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
