"""Each exercise checker passes the reference answer and fails typical wrong answers with a useful hint."""
import pytest
import torch

from snnlab import exercises as E


def not_written(*args):
    raise NotImplementedError("Student exercise")


# (checker, reference, [(typical wrong answer, words its hint must contain)])
CASES = {
    "lif_step": (E.check_lif_step, E.lif_step_reference,
                 [(E._lif_no_reset, "no reset"), (E._lif_reset_now, "previous step"),
                  (E._lif_reset_zero, "subtracts the threshold"), (E._lif_leak_after, "old membrane")]),
    "fgsm": (E.check_fgsm, E.fgsm_reference,
             [(E._fgsm_no_sign, "*sign*"), (E._fgsm_descent, "loss up"), (E._fgsm_no_clamp, "clamp(0, 1)")]),
    "asymmetric_loss": (E.check_asymmetric_loss, E.asymmetric_loss_reference,
                        [(E._asymmetric_flipped, "under-estimates"), (E._asymmetric_abs, "square"),
                         (E._asymmetric_sum, ".mean()")]),
    "bounded_correction": (E.check_bounded_correction, E.bounded_correction_reference,
                           [(E._bounded_no_tanh, "tanh"), (E._bounded_plus, "subtract"),
                            (E._bounded_no_clamp, "clamp(0, 1)")]),
    "threshold_at_fpr": (E.check_threshold_at_fpr, E.threshold_at_fpr_reference,
                         [(E._threshold_low_side, "*above*"), (E._threshold_off_by_one, "counts from 0")]),
    "bpda": (E.check_bpda, E.bpda_reference,
             [(lambda p, x: p(x), "went through the purifier"), (lambda p, x: p(x).detach(), "no gradient"),
              (lambda p, x: x + p(x).detach(), "forward pass")]),
    "certified_radius": (E.check_certified_radius, E.certified_radius_reference,
                         [(E._radius_point_estimate, "lower confidence"), (E._radius_two_sided, "one-sided"),
                          (E._radius_no_abstain, "abstain"), (E._radius_no_sigma, "multiply by sigma")]),
    "anomaly_index": (E.check_anomaly_index, E.anomaly_index_reference,
                      [(E._anomaly_unscaled, "1.4826"), (E._anomaly_two_sided, "keep the sign"), (E._anomaly_clamped, "do not clamp"),
                       (E._anomaly_std, "median absolute deviation"), (E._anomaly_mean, "not the mean"),
                       (E._anomaly_lower_median, "quantile(0.5)")]),
}


def test_every_checker_is_tested():
    assert set(CASES) == set(E.CHECKERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_answer_passes(name):
    check, reference, _ = CASES[name]
    verdict = check(reference)
    assert verdict.ok and bool(verdict), verdict.message
    assert verdict.message.startswith(f"{name}: right") and "\n" not in verdict.message


@pytest.mark.parametrize("name", sorted(CASES))
def test_typical_wrong_answers_fail_with_their_hint(name):
    check, _, wrong_answers = CASES[name]
    for wrong, words in wrong_answers:
        verdict = check(wrong)
        assert not verdict.ok and not bool(verdict)
        assert words in verdict.message and "Hint:" in verdict.message, verdict.message
        assert repr(verdict) == verdict.message and "\n" not in verdict.message


@pytest.mark.parametrize("name", sorted(CASES))
def test_scaffold_not_written_yet_and_errors_are_one_line(name):
    check = CASES[name][0]
    assert "not written yet" in check(not_written).message
    assert "not written yet" not in check(lambda *a: 1 / 0).message
    assert "raised ZeroDivisionError" in check(lambda *a: 1 / 0).message
    assert "expected a function" in check(42).message


def test_an_unknown_wrong_answer_gets_the_general_hint():
    verdict = E.check_fgsm(lambda model, images, labels, eps: images)
    assert not verdict.ok and "on 2 of 2 test inputs" in verdict.message and "sign" in verdict.message
    verdict = E.check_lif_step(lambda membrane, current, beta, threshold: (current, membrane, beta))
    assert "returned 3 value(s), expected 2 (spike, membrane)" in verdict.message


def test_student_function_may_not_change_the_checkers_inputs():
    def in_place(membrane, current, beta, threshold):  # correct answer computed after spoiling its input
        spike, new = E.lif_step_reference(membrane, current, beta, threshold)
        membrane.zero_()
        return spike, new

    assert E.check_lif_step(in_place).ok  # the reference is run on its own copies


def test_bounded_correction_is_what_the_purifier_uses():
    import snnlab

    purifier = snnlab.load_pretrained("digits").purifier
    images = snnlab.load_dataset("digits", "test")[0][:8]
    with torch.no_grad():
        sigma = purifier.nesnn(images)
        expected = E.bounded_correction_reference(images, sigma, purifier.recsnn(images, sigma))
        assert torch.equal(purifier(images), expected)


def test_a_non_strict_spike_is_caught():
    def greater_or_equal(membrane, current, beta, threshold):
        reset = (membrane >= threshold).float()
        membrane = beta * membrane + current - reset * threshold
        return (membrane >= threshold).float(), membrane

    assert not E.check_lif_step(greater_or_equal).ok


def test_checking_fgsm_keeps_the_students_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    E.check_fgsm(E.fgsm_reference)
    assert torch.equal(torch.rand(3), expected)
