"""Each exercise checker passes the reference answer and fails typical wrong answers with a useful hint."""
import pytest
import torch

from snnlab.course import exercises as E


def not_written(*args):
    raise NotImplementedError("Student exercise")


# (checker, reference, [(typical wrong answer, words its hint must contain)])
CASES = {
    "lif_step": (E.check_lif_step, E.lif_step_reference,
                 [(E._lif_no_reset, "no reset"), (E._lif_reset_now, "previous step"),
                  (E._lif_reset_zero, "subtracts the threshold"), (E._lif_leak_after, "old membrane")]),
    "fgsm": (E.check_fgsm, E.fgsm_reference,
             [(E._fgsm_no_sign, "*sign*"), (E._fgsm_descent, "loss up"), (E._fgsm_no_clamp, "clamp(0, 1)"),
              (E._fgsm_tuple, "returns a tuple")]),
    "asymmetric_loss": (E.check_asymmetric_loss, E.asymmetric_loss_reference,
                        [(E._asymmetric_flipped, "under-estimates"), (E._asymmetric_abs, "square"),
                         (E._asymmetric_sum, ".mean()")]),
    "bounded_correction": (E.check_bounded_correction, E.bounded_correction_reference,
                           [(E._bounded_no_tanh, "tanh"), (E._bounded_plus, "*minus*"),
                            (E._bounded_no_clamp, "clamp(0, 1)")]),
    "threshold_at_fpr": (E.check_threshold_at_fpr, E.threshold_at_fpr_reference,
                         [(E._threshold_low_side, "*above*"), (E._threshold_off_by_one, "counts from 0"),
                          (E._threshold_ceil_index, "one past the k-th smallest"),
                          (E._threshold_count, "not the position (a count)")]),
    "bpda": (E.check_bpda, E.bpda_reference,
             [(lambda p, x: p(x), "went through the purifier"), (lambda p, x: p(x).detach(), "no gradient"),
              (lambda p, x: x + p(x).detach(), "forward value")]),
    "certified_radius": (E.check_certified_radius, E.certified_radius_reference,
                         [(E._radius_point_estimate, "lower confidence"), (E._radius_two_sided, "one-sided"),
                          (E._radius_no_abstain, "abstain"), (E._radius_no_sigma, "multiply by sigma")]),
    "anomaly_index": (E.check_anomaly_index, E.anomaly_index_reference,
                      [(E._anomaly_unscaled, "1.4826"), (E._anomaly_two_sided, "keep the sign"),
                       (E._anomaly_clamped, "do not clamp"), (E._anomaly_std, "median absolute deviation"),
                       (E._anomaly_mean, "not the mean"), (E._anomaly_lower_median, "quantile(0.5)")]),
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


def test_the_likeliest_slips_are_named():
    # lesson 2: the tuple from torch.autograd.grad, not unpacked
    def fgsm_tuple(model, images, labels, eps):
        images = images.clone().requires_grad_(True)
        grad = torch.autograd.grad(torch.nn.functional.cross_entropy(model(images), labels), images)
        return (images + eps * grad.sign()).clamp(0, 1).detach()

    verdict = E.check_fgsm(fgsm_tuple)
    assert "raised AttributeError" in verdict.message and "unpack it" in verdict.message, verdict.message
    # lesson 5: ranked[k] with the ceiling, and a count instead of a score
    import math

    def ceil_index(clean_scores, fpr):
        ranked = clean_scores.sort().values
        k = math.ceil((1 - fpr) * len(ranked))
        return ranked[k]

    assert "Python counts from 0" in E.check_threshold_at_fpr(ceil_index).message
    count = E.check_threshold_at_fpr(lambda s, fpr: max(math.ceil((1 - fpr) * len(s)), 1))
    assert "returned the integer" in count.message and "a count" in count.message and "raised" not in count.message
    assert "not the position" in E.check_threshold_at_fpr(lambda s, fpr: float(math.ceil((1 - fpr) * len(s)))).message


def test_checkers_check_what_the_next_cell_needs():
    ref = E.anomaly_index_reference
    as_list = E.check_anomaly_index(lambda kl: ref(kl).tolist())  # lesson 8's next cell calls torch.allclose on it
    assert not as_list.ok and "returned a list, expected a torch.Tensor" in as_list.message
    as_array = E.check_anomaly_index(lambda kl: ref(kl).numpy())
    assert not as_array.ok and "returned a ndarray" in as_array.message
    single = E.check_anomaly_index(lambda kl: ref(kl).float())  # allclose against a float64 tensor fails
    assert not single.ok and "dtype torch.float32, expected torch.float64" in single.message
    assert not E.check_anomaly_index(lambda kl: ref(kl)[None]).ok  # shape (1, 10)

    def bool_spike(membrane, current, beta, threshold):
        spike, membrane = E.lif_step_reference(membrane, current, beta, threshold)
        return spike.bool(), membrane

    assert ".float()" in E.check_lif_step(bool_spike).message
    listed = E.check_certified_radius(
        lambda votes, n, sigma, alpha: [float(E.certified_radius_reference(votes, n, sigma, alpha))])
    assert not listed.ok and "expected a radius" in listed.message and "raised" not in listed.message
    assert E.check_certified_radius(lambda *a: float(E.certified_radius_reference(*a))).ok  # a float is what it needs
    import numpy as np

    assert E.check_certified_radius(lambda *a: np.float64(E.certified_radius_reference(*a))).ok
    assert E.check_threshold_at_fpr(lambda s, fpr: float(E.threshold_at_fpr_reference(s, fpr))).ok
    shaped = E.check_threshold_at_fpr(lambda s, fpr: E.threshold_at_fpr_reference(s, fpr).repeat(3))
    assert "a tensor of shape (3,)" in shaped.message
    assert "expected a tensor shaped like the images" in E.check_bpda(lambda p, x: p(x).tolist()).message


# Code from each solution that no hint may print (the solution itself, or its one decisive line).
SOLUTION_CODE = {
    "bounded_correction": ["sigma * tanh(raw)", "sigma * torch.tanh(raw)"],
    "bpda": ["(P(x) - x).detach()", "(purifier(images) - images).detach()"],
    "certified_radius": ["beta.ppf(alpha, votes, n - votes + 1)"],
    "anomaly_index": ["kl.quantile(0.5); mad", "(kl - median) / (1.4826 * mad)", "(kl - median).abs().quantile(0.5)"],
    "asymmetric_loss": ["((alpha - under).abs() * (sigma_hat - sigma) ** 2).mean()"],
    "threshold_at_fpr": ["max(math.ceil((1 - fpr) * len(ranked)), 1)"],
    "fgsm": ["(images + eps * grad.sign()).clamp(0, 1)"],
    "lif_step": ["beta * membrane + current - reset * threshold"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_hint_prints_the_solution(name):
    check, reference, wrong_answers = CASES[name]
    messages = [check(wrong).message for wrong, _ in wrong_answers]
    messages += [check(lambda *a: 1 / 0).message, check(lambda *a: 0.0).message]
    for message in messages:
        for code in SOLUTION_CODE[name]:
            assert code not in message, message
