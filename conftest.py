"""The test tiers, and executed notebooks run headless.

**Tiers.** Every test gets one marker, so one tier can run alone (``make test`` runs them all):

- ``browser``: drives headless Chromium (the book's pages, JupyterLab);
- ``course``: the lessons, executed under nbval, and the tests of the course builds, exercises,
  widgets and capstone;
- ``regression``: figures and behaviour measured on the shipped pretrained weights;
- ``unit``: everything else (the fast tier: ``pytest -m unit``).

**Headless notebooks.** nbval's kernels inherit this process's environment.

With ``SNNLAB_HEADLESS=1``, ``snnlab.course.widgets.interact`` shows its figure at the sliders' starting values
instead of making ipywidgets, whose messages to a front end that is not there can leave a cell's reply
waiting forever (cf. jupyter/nbclient#312). The course builds set the same variable
(book/build_course.py); tests/test_jupyterlab.py removes it for the JupyterLab it starts, whose kernels
have a front end.
"""
import os

import pytest

os.environ.setdefault("SNNLAB_HEADLESS", "1")

BROWSER = {"test_book.py", "test_jupyterlab.py"}
COURSE = {"test_lessons.py", "test_course_build.py", "test_exercises.py", "test_widgets.py", "test_capstone.py"}
REGRESSION = {"test_pretrained.py", "test_results.py"}  # and every test that loads the shipped weights


def tier(item) -> str:
    """The tier of one collected test (see the module docstring)."""
    name = os.path.basename(str(item.fspath))
    if name in BROWSER:
        return "browser"
    if name in COURSE or name.endswith(".ipynb"):
        return "course"
    if name in REGRESSION or "pretrained" in getattr(item, "fixturenames", ()):
        return "regression"
    return "unit"


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(getattr(pytest.mark, tier(item)))
