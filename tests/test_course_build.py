"""Two builds from one source (book/build_course.py): student notebooks run, instructor notebooks are the lessons.

The instructor build is the committed lessons, cell for cell; nbval executes those in `make test`.
Here the student build is written and executed: its cells may raise NotImplementedError (a scaffold
called directly) and nothing else, and no solution survives in it.
"""
import os
import sys

import nbformat
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "book"))
import build_course  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_course.build(str(tmp_path_factory.mktemp("course")))


def test_both_builds_have_every_lesson(built):
    names = [os.path.basename(p) for p in build_course.lessons()]
    assert len(names) == 8
    for kind in ("student", "instructor"):
        assert [os.path.basename(p) for p in built[kind]] == names


def test_instructor_build_is_the_lessons(built):
    for lesson, path in zip(build_course.lessons(), built["instructor"]):
        a, b = nbformat.read(lesson, as_version=4), nbformat.read(path, as_version=4)
        assert [(c.cell_type, c.source) for c in a.cells] == [(c.cell_type, c.source) for c in b.cells]


def test_student_build_strips_solutions_and_keeps_scaffolds(built):
    for lesson, path in zip(build_course.lessons(), built["student"]):
        full, student = nbformat.read(lesson, as_version=4), nbformat.read(path, as_version=4)
        solutions = [c for c in full.cells if "solution" in c.metadata.get("tags", [])]
        assert solutions and not any("solution" in c.metadata.get("tags", []) for c in student.cells)
        kept = {c.source for c in student.cells}
        assert not any(c.source in kept for c in solutions)
        notes = [c for c in student.cells if c.source == build_course.STUDENT_NOTE]
        assert len(notes) == sum(c.cell_type == "code" for c in solutions)
        assert any('raise NotImplementedError("Student exercise' in c.source for c in student.cells)
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


def test_student_build_executes(built):
    """Every student notebook runs top to bottom; scaffolds answer "not written yet" through the checker."""
    for path in built["student"]:
        errors = build_course.execute(path, allowed=("NotImplementedError",))
        nb = nbformat.read(path, as_version=4)
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        text += "".join(o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", []))
        assert "not written yet" in text or errors, f"{path}: no scaffold was run"


def test_a_forbidden_error_fails_the_build(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('boom')")])
    path = str(tmp_path / "99_broken.ipynb")
    nbformat.write(nb, path)
    with pytest.raises(RuntimeError, match="ValueError: boom"):
        build_course.execute(path, allowed=("NotImplementedError",))
