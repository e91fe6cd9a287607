"""Lessons are code: paired .py/.ipynb in sync, committed executed, and built like a course.

nbval executes the notebooks themselves (`pytest --nbval-lax lessons/`, part of `make test`).
"""
import glob
import os

import jupytext
import pytest

LESSONS = os.path.join(os.path.dirname(__file__), os.pardir, "lessons")
SCRIPTS = sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.py")))


def test_eight_lessons_in_order():
    names = [os.path.basename(p)[:-3] for p in SCRIPTS]
    assert names == ["01_spiking_neurons", "02_classifier_and_attacks", "03_noise_estimator",
                     "04_unet_purification", "05_detector_thresholds", "06_honest_evaluation",
                     "07_purifiers_compared", "08_poisoned_data"]


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells if c.cell_type in ("code", "markdown")]


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_py_and_ipynb_agree(script):
    notebook = script[:-3] + ".ipynb"
    assert os.path.exists(notebook), f"{notebook} is missing: run jupytext --sync {script}"
    a, b = _cells(jupytext.read(script)), _cells(jupytext.read(notebook))
    assert len(a) == len(b), f"{script} and its .ipynb have different cell counts: run jupytext --sync"
    for i, (ca, cb) in enumerate(zip(a, b)):
        assert ca == cb, f"cell {i} differs between {os.path.basename(script)} and its .ipynb: run jupytext --sync"


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_ipynb_is_committed_executed(script):
    nb = jupytext.read(script[:-3] + ".ipynb")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "run the notebook and commit it with outputs"
    assert any(c.get("outputs") for c in code)
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_course_structure(script):
    text = open(script).read()
    for needed in ("**Objectives.**", "**Estimated time:**", "## 1.", "Interactive demo", "### Exercise",
                   "## Summary", "colab.research.google.com", "google.colab", "precomputed_slider"):
        assert needed in text, f"{script} lacks {needed!r}"
    if not os.path.basename(script).startswith("01"):  # lessons with trained models offer a retrain cell
        assert "RETRAIN = False" in text and "retrain=RETRAIN" in text


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_every_exercise_has_a_solution_that_ci_runs(script):
    """Each exercise is followed, before the next section, by a code cell tagged "solution" (nbval runs it,
    and its assertions check the answer); no solution hides as unexecuted code in a <details> block."""
    nb = jupytext.read(script)
    text = open(script).read()
    assert "<details><summary>Solution" not in text, "write the solution as a cell tagged 'solution'"
    open_exercise = None
    for cell in nb.cells:
        source = cell.source
        if cell.cell_type == "markdown" and ("### Exercise" in source or source.lstrip().startswith("## ")):
            assert open_exercise is None, f"{open_exercise!r} has no solution cell before the next heading"
            if "### Exercise" in source:
                open_exercise = next(line for line in source.splitlines() if "### Exercise" in line)
        elif cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            assert open_exercise is not None, "a solution cell outside an exercise"
            assert "assert " in source, f"the solution to {open_exercise!r} asserts nothing about its answer"
            open_exercise = None
    assert open_exercise is None, f"{open_exercise!r} has no solution cell"


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_every_lesson_has_a_coding_exercise_with_a_checker(script):
    """Students write code: a scaffold (`...`, `raise NotImplementedError("Student exercise`) checked by
    snnlab.course.exercises, and a solution cell whose checker verdict is asserted."""
    nb = jupytext.read(script)
    scaffolds = [c for c in nb.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])
                 and 'raise NotImplementedError("Student exercise' in c.source]
    assert scaffolds, "no coding exercise"
    for cell in scaffolds:
        assert "exercises.check_" in cell.source and "..." in cell.source
    solutions = [c.source for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert any("exercises.check_" in s and "assert verdict.ok" in s for s in solutions)


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_timings_and_think_prompts(script):
    """Realistic timings per section, and every "Think!" prompt has a hidden answer right after it."""
    nb = jupytext.read(script)
    sections = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")
                and not c.source.startswith("## Summary")]
    assert sections and all("*Estimated timing to here from start of lesson:" in s for s in sections)
    thinks = [c.source for c in nb.cells if c.cell_type == "markdown" and "**Think!**" in c.source]
    assert thinks, "no Think! prompt"
    for source in thinks:
        after = source.split("**Think!**", 1)[1]
        assert "<details><summary>Answer</summary>" in after and "</details>" in after


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_no_heading_hides_in_a_solution_cell(script):
    """The student build drops solution cells: a section heading inside one would vanish with it."""
    for cell in jupytext.read(script).cells:
        if "solution" in cell.metadata.get("tags", []) and cell.cell_type == "markdown":
            assert not any(line.startswith("#") for line in cell.source.splitlines()), cell.source[:80]
