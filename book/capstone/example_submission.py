"""A capstone submission, "defend": the joint defence with the detector's threshold at 5% false positives.

Grade it with

    snnlab capstone book/capstone/example_submission.py

The shipped defence calibrates its threshold at 1% false positives on the calibration split. This
variant flags more (5%), hoping to catch more adversarial images, and its table says what that
buys against each threat model. The figures in CLAIMS are the ones the grader printed for this
file (first 100 test images, default settings); book/capstone/example_grade.txt holds the run.
"""
import snnlab


def build_defense():
    defense = snnlab.load_pretrained("digits")
    calibration, _ = snnlab.load_dataset("digits", "calibration")
    defense.detector.calibrate(calibration, fpr=0.05)  # threshold from clean calibration images only
    return defense.eval()


# Measured by the grader on 2026-11-23 (2 CPU cores): grey-box 95.0% / 99.0%, white-box (full
# ensemble, 100 steps) 21.0% / 31.0%, accuracy / correct or flagged.
CLAIMS = [
    {"threat_model": "grey-box", "eps": 0.1, "accuracy": 0.95, "correct_or_flagged": 0.99},
    {"threat_model": "white-box", "eps": 0.1, "accuracy": 0.21, "correct_or_flagged": 0.31},
]
