"""A student's path in a real browser: JupyterLab on localhost runs lesson 2, and moving the epsilon
slider redraws the figure.

Runs a copy of the lesson in a temporary folder (JupyterLab autosaves; the committed notebook must not
change). Needs Debian's chromium and chromium-driver, like tests/test_book.py; skipped without them.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")
LESSON = "02_classifier_and_attacks.ipynb"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
TOKEN = "snnlab-test"

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(os.path.join(ROOT, "lessons", LESSON), work)
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "SNNLAB_HEADLESS"},  # this lab has a front end
           "JUPYTER_CONFIG_DIR": str(work / ".config"), "JUPYTER_RUNTIME_DIR": str(work / ".runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / ".workspaces")}
    log = open(work / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={work}", "--expose-app-in-browser"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start; its log:\n{open(work / 'lab.log').read()[-3000:]}")
            time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


# The interactive demo's figure: the plotly div inside the ipywidgets output under the eps slider.
DEMO_STATE = """
    const box = Array.from(document.querySelectorAll('.widget-interact')).find(
        w => Array.from(w.querySelectorAll('.widget-label')).some(l => l.textContent.trim() === 'eps'));
    if (!box) return null;
    const title = box.querySelector('.plotly-graph-div .gtitle');
    const readout = box.querySelector('.widget-readout');
    return {title: title ? title.textContent : null, readout: readout ? readout.textContent.trim() : null};
"""


def _wait(browser, condition, seconds, what):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, seconds, poll_frequency=0.5).until(condition)
    except TimeoutException:
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.save_screenshot(os.path.join(ARTIFACTS, "jupyterlab_failed.png"))
        what = what() if callable(what) else what
        pytest.fail(f"timed out after {seconds} s waiting for {what} "
                    "(screenshot: tests/artifacts/jupyterlab_failed.png)")


def test_lesson_2_runs_in_jupyterlab_and_the_eps_slider_redraws_the_figure(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{lab}/lab/tree/{LESSON}?token={TOKEN}")
    # The lesson's panel is open and its kernel is ready (found by name: with no window focus, the shell's
    # current widget can stay the Launcher).
    panel_js = f"""
        const app = window.jupyterapp;
        let panel = null;
        if (app) {{  // JupyterLab 3 (Lumino 1) iterators have next() -> value | undefined; Lab 4's are native
            const it = app.shell.widgets('main');
            const all = it[Symbol.iterator] ? Array.from(it) : [];
            if (!it[Symbol.iterator]) for (let w = it.next(); w !== undefined; w = it.next()) all.push(w);
            panel = all.find(w => w.title.label === '{LESSON}');
        }}
        """
    state = {}

    def kernel_ready(driver):
        state["kernel"] = driver.execute_script(panel_js + """
            const k = panel && panel.sessionContext && panel.sessionContext.session"""
            " && panel.sessionContext.session.kernel;" """
            return !app ? 'no app' : !panel ? 'no panel' : !k ? 'no kernel' : k.connectionStatus + ' ' + k.status;""")
        return state["kernel"] == "connected idle"

    _wait(browser, kernel_ready, 180, lambda: f"the notebook's kernel (last seen: {state['kernel']})")
    # Start "Run All" and poll for its result: one blocking call could outlast the WebDriver client's timeout.
    browser.execute_script(panel_js + """
        window.snnlabRunAll = 'running';
        app.shell.activateById(panel.id);
        app.commands.execute('notebook:run-all-cells').then(ok => { window.snnlabRunAll = String(ok); },
                                                             e => { window.snnlabRunAll = 'error: ' + e; });
    """)
    ran = _wait(browser,
                lambda d: (lambda r: r if r != "running" else False)(d.execute_script("return window.snnlabRunAll;")),
                600, "the lesson to finish running")
    assert ran == "true", f"running all cells failed: {ran}"
    errors = browser.execute_script(
        "return Array.from(document.querySelectorAll("
        "'.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'))"
        ".map(e => e.textContent).filter(t => /Error|Traceback/.test(t));")
    assert not errors, errors
    before = _wait(browser, lambda d: (lambda s: s if s and s["title"] else False)(d.execute_script(DEMO_STATE)),
                   120, "the eps demo's figure")
    # Move the slider the way a student would: focus its handle and press the right arrow twice.
    handle = browser.execute_script("""
        const box = Array.from(document.querySelectorAll('.widget-interact')).find(
            w => Array.from(w.querySelectorAll('.widget-label')).some(l => l.textContent.trim() === 'eps'));
        const slider = Array.from(box.querySelectorAll('.widget-slider')).find(
            s => s.querySelector('.widget-label').textContent.trim() === 'eps');
        const h = slider.querySelector('.noUi-handle');
        h.scrollIntoView({block: 'center'});
        return h;""")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    handle.send_keys(Keys.ARROW_RIGHT)
    # continuous_update=False: each key press is a value change; wait until the figure shows the final one.
    state = {}

    def redrawn(driver):
        state["demo"] = s = driver.execute_script(DEMO_STATE)
        return (s and s["title"] and s["readout"] != before["readout"]
                and f"eps={float(s['readout']):.3g}" in s["title"])

    _wait(browser, redrawn, 120, lambda: f"the figure to follow the slider: before {before}, now {state['demo']}")
    assert state["demo"]["title"] != before["title"]
    assert browser.find_elements(By.CSS_SELECTOR, ".widget-interact .plotly-graph-div .main-svg")
    os.makedirs(ARTIFACTS, exist_ok=True)
    browser.save_screenshot(os.path.join(ARTIFACTS, "jupyterlab_lesson_02.png"))
