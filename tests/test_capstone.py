"""The capstone grader re-measures every claim, catches overclaims and malformed tables, and says why."""
import pytest
import torch
from torch import nn

import snnlab
from snnlab.cli import main
from snnlab.course import capstone

QUICK = dict(limit=16, ensemble="light", steps=5, sanity_steps=5)


@pytest.fixture(scope="module")
def classifier():
    return snnlab.load_pretrained("digits").classifier.eval()


@pytest.fixture(scope="module")
def measured(classifier):
    """The grader's own white-box figure at eps 0.3 for the quick settings."""
    g = capstone.grade(classifier, [{"threat_model": "white-box", "eps": 0.3, "accuracy": 0.0}], **QUICK)
    return g.rows[0]["measured"]


def _criterion(grade, start):
    return next(c for c in grade.criteria if c.name.startswith(start))


def test_an_honest_claim_holds_and_an_overclaim_fails(classifier, measured):
    honest = capstone.grade(classifier, [{"threat_model": "white-box", "eps": 0.3, "accuracy": measured}], **QUICK)
    assert honest.rows[0]["holds"] and _criterion(honest, "no claim above").passed
    claimed = measured + capstone.margin(measured, 16) + 0.05
    over = capstone.grade(classifier, [{"threat_model": "white-box", "eps": 0.3, "accuracy": claimed}], **QUICK)
    assert not over.rows[0]["holds"] and not over.passed
    assert "overclaim" in _criterion(over, "no claim above").detail and "OVERCLAIM" in over.report()


def test_every_row_needs_a_threat_model_and_a_white_box_row(classifier):
    g = capstone.grade(classifier, [{"eps": 0.1, "accuracy": 0.5},
                                    {"threat_model": "grey-box", "eps": 0.1, "accuracy": 0.5}], **QUICK)
    rows = _criterion(g, "every row names")
    assert not rows.passed and "row 1: threat model None" in rows.detail
    white = _criterion(g, "at least one white-box")
    assert not white.passed and "grey-box alone is not robustness" in white.detail
    assert not any(c.name.startswith("sanity") for c in g.criteria)  # no white-box radius to check at
    g = capstone.grade(classifier, [], **QUICK)
    assert "CLAIMS is empty" in _criterion(g, "every row names").detail


def test_a_bare_classifier_cannot_claim_flags(classifier):
    g = capstone.grade(classifier, [{"threat_model": "grey-box", "eps": 0.1, "accuracy": 0.0,
                                     "correct_or_flagged": 0.5}], **QUICK)
    assert "a bare classifier has no flags" in _criterion(g, "no claim above").detail


def test_sanity_checks_are_part_of_the_grade(classifier, measured):
    g = capstone.grade(classifier, [{"threat_model": "white-box", "eps": 0.3, "accuracy": measured}], **QUICK)
    from snnlab.attacks.sanity import sanity_checks

    sanity = _criterion(g, "sanity checks at eps 0.3")
    images, labels = snnlab.load_dataset("digits", "test", limit=16)
    checks = sanity_checks(classifier, images, labels, eps=0.3, steps=5)
    assert sanity.passed == all(c.passed for c in checks)
    assert all(c.name in sanity.detail for c in checks if not c.passed) or sanity.detail == f"all {len(checks)} pass"


class Noisy(nn.Module):
    def forward(self, images):
        return torch.randn(len(images), 10)


class WrongShape(nn.Module):
    def forward(self, images):
        return torch.zeros(len(images), 3)


@pytest.mark.parametrize("model, words", [(Noisy(), "deterministic"), (WrongShape(), "shape (16, 10)")])
def test_a_model_that_does_not_answer_properly_stops_the_grade(model, words):
    g = capstone.grade(model, [{"threat_model": "white-box", "eps": 0.1, "accuracy": 0.0}], **QUICK)
    assert len(g.criteria) == 1 and not g.passed and words in g.criteria[0].detail


def test_margin_is_sampling_noise_plus_one_image():
    assert capstone.margin(0.5, 100) == pytest.approx(1.96 * 0.05 + 0.01)
    assert capstone.margin(0.0, 100) == pytest.approx(0.01)


def test_submission_errors_are_one_clear_line(tmp_path, capsys):
    with pytest.raises(capstone.SubmissionError, match="no submission file"):
        capstone.load_submission(str(tmp_path / "missing.py"))
    half = tmp_path / "half.py"
    half.write_text("def build_defense():\n    return None\n")
    with pytest.raises(capstone.SubmissionError, match="defines no CLAIMS"):
        capstone.load_submission(str(half))
    broken = tmp_path / "broken.py"
    broken.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(capstone.SubmissionError, match="fails to import: ModuleNotFoundError"):
        capstone.load_submission(str(broken))
    wrong = tmp_path / "wrong.py"
    wrong.write_text("CLAIMS = []\ndef build_defense():\n    return 3\n")
    with pytest.raises(capstone.SubmissionError, match="expected a torch nn.Module"):
        capstone.load_submission(str(wrong))
    assert main(["capstone", str(half)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnlab: error:") and "\n" not in err
    with pytest.raises(ValueError, match="choose light or full"):
        capstone.grade(Noisy(), [], ensemble="medium")


def test_the_cli_grades_a_submission(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text("import snnlab\n"
                    "def build_defense():\n    return snnlab.load_pretrained('digits').classifier\n"
                    "CLAIMS = [{'threat_model': 'white-box', 'eps': 0.3, 'accuracy': 0.95}]\n")
    assert main(["capstone", str(path), "--limit", "16", "--ensemble", "light", "--steps", "5"]) == 1
    out = capsys.readouterr().out
    assert "OVERCLAIM" in out and "NOT PASSED" in out
