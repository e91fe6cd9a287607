"""The book builds offline from the committed lessons, and every lesson page renders in headless Chromium.

Needs Debian's chromium and chromium-driver (`.ci/run` installs them); skipped with a reason without them.
"""
import functools
import http.server
import os
import re
import shutil
import threading

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
LESSONS = ["01_spiking_neurons", "02_classifier_and_attacks", "03_noise_estimator", "04_unet_purification",
           "05_detector_thresholds", "06_honest_evaluation", "07_purifiers_compared", "08_poisoned_data"]


@pytest.fixture(scope="module")
def site():
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_build", os.path.join(ROOT, "book", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    index = module.build()
    html_dir = os.path.dirname(index)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=html_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield html_dir, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


TEXT_PAGES = ["teachers/prerequisites", "teachers/primer", "capstone", "teachers/schedule",
              "teachers/instructor_notes", "teachers/glossary", "teachers/references"]


def test_book_has_every_lesson_the_results_page_and_the_teachers_kit(site):
    html_dir, _ = site
    for name in LESSONS:
        assert os.path.exists(os.path.join(html_dir, "lessons", f"{name}.html")), name
    for page in ["results"] + TEXT_PAGES:
        assert os.path.exists(os.path.join(html_dir, f"{page}.html")), page


def test_api_reference_is_generated_from_the_docstrings(site):
    html_dir, _ = site
    page = open(os.path.join(html_dir, "api.html"), encoding="utf-8").read()
    for name in ("load_pretrained", "JointDefense", "SpikingResNet", "APGD", "train_all", "evaluate_in_chunks",
                 "Trigger", "build_parser"):
        assert 'id="snnlab.' in page and name in page, name
    assert "atomically" in page  # a docstring's words, not only the names: autodoc ran


def test_instructor_notes_quote_the_executed_solutions(site):
    """The expected outputs are copied from the notebooks: every coding exercise's verdict is there."""
    notes = open(os.path.join(ROOT, "book", "teachers", "instructor_notes.md"), encoding="utf-8").read()
    for exercise in ("lif_step", "fgsm", "asymmetric_loss", "bounded_correction", "threshold_at_fpr", "bpda",
                     "certified_radius"):
        assert f"{exercise}: right." in notes
    assert notes.count("**Common mistakes**") == len(LESSONS)
    for figure in re.findall(r"\d+\.\d%", notes):
        assert any(figure in open(os.path.join(ROOT, "lessons", f"{n}.ipynb"), encoding="utf-8").read()
                   for n in LESSONS), f"{figure} in the instructor notes is printed by no lesson"


def test_references_name_the_seed_paper():
    text = open(os.path.join(ROOT, "book", "teachers", "references.md"), encoding="utf-8").read()
    assert "arXiv 2404.17092 v2 (2025)" in text


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("needs chromium and chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


# Offline, the "Open in Colab" / Binder badge images (links to online services) cannot load; and the
# pydata theme logs "Got invalid theme mode" on a first visit with empty storage. Nothing else is excused.
BADGES = ("https://colab.research.google.com/assets/colab-badge.svg", "https://mybinder.org/badge_logo.svg")


def _expected_offline(entry) -> bool:
    message = entry["message"]
    if entry.get("source") == "network" and message.startswith(BADGES):
        return True
    return entry.get("source") == "console-api" and "Got invalid theme mode" in message


PAGES = [f"lessons/{name}" for name in LESSONS] + ["results"]


def _figures_in_source(html_dir: str, page: str) -> int:
    """How many plotly figure divs the built page holds: the browser must render every one of them."""
    with open(os.path.join(html_dir, f"{page}.html"), encoding="utf-8") as f:
        return len(re.findall(r'<div id="[^"]+" class="plotly-graph-div"', f.read()))


PAGE_STATE = """
    const plots = Array.from(document.querySelectorAll('.plotly-graph-div'));
    return {ready: document.readyState, url: location.href, title: document.title,
            plotly: typeof window.Plotly !== 'undefined', n: plots.length,
            blank: plots.filter(p => !p.querySelector('.main-svg')).length};
"""


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_its_figures(site, browser, page):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    html_dir, url = site
    name = os.path.basename(page)
    expected = _figures_in_source(html_dir, page)
    assert expected >= 2, f"the built page {page}.html holds only {expected} plotly figures"
    browser.get(f"{url}/{page}.html")
    # get() returns at the load event; wait until the page is complete and every figure has drawn its SVG.
    state = {}

    def rendered(driver):
        state.update(driver.execute_script(PAGE_STATE))
        return (state["ready"] == "complete" and state["url"].endswith(f"{name}.html") and state["plotly"]
                and state["n"] == expected and state["blank"] == 0)

    try:
        WebDriverWait(browser, 30, poll_frequency=0.25).until(rendered)
    except TimeoutException:
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.save_screenshot(os.path.join(ARTIFACTS, f"failed_{name}.png"))
        pytest.fail(f"{name}: after 30 s the page state is {state}; the built page holds {expected} figures "
                    f"(screenshot: tests/artifacts/failed_{name}.png)")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and not _expected_offline(e)]
    assert not errors, errors
    if name == "02_classifier_and_attacks":
        browser.execute_script("document.querySelectorAll('.plotly-graph-div')[1].scrollIntoView()")
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))


@pytest.mark.parametrize("page", TEXT_PAGES)
def test_teachers_pages_render(site, browser, page):
    """The teacher's kit pages load offline with no console errors, and their hidden answers are there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, url = site
    browser.get(f"{url}/{page}.html")
    WebDriverWait(browser, 30, poll_frequency=0.25).until(
        lambda b: b.execute_script("return document.readyState") == "complete")
    heading = browser.execute_script("const h = document.querySelector('article h1, main h1');"
                                     "return h ? h.textContent : '';")
    assert heading.strip(), f"{page} has no page title"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and not _expected_offline(e)]
    assert not errors, errors
    if page in ("teachers/prerequisites", "teachers/primer"):
        assert browser.find_elements(By.TAG_NAME, "details"), f"{page} has no hidden answers"
