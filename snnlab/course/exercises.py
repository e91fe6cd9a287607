"""Checkers for the lessons' coding exercises: call the student's function, compare, answer in one line.

Each ``check_*`` calls the student's function on fixed inputs, compares the
result with snnlab's (or the library's: snntorch, torchattacks) and returns a
:class:`Verdict` that prints as one line: ``right``, or what is wrong and a
hint. Where a wrong answer matches a known mistake (a reset on the wrong step,
FGSM without the sign, the loss's indicator the wrong way round, the tuple from
``torch.autograd.grad`` not unpacked, an index one past the end, ...) the hint
names that mistake; no hint spells out the solution's code. Before any value is
compared, the checker checks what the lesson's next cell needs: a tensor (not a
list or an array), of the expected shape and dtype, or a number. A function
that still raises ``NotImplementedError`` (the scaffold) gets "not written
yet", not a traceback.

    >>> from snnlab.course import exercises
    >>> exercises.check_lif_step(my_lif_step)
    lif_step: right. ...

The comparison is written here by hand (no library checks student code
against a reference); the references are snntorch's ``Leaky``,
torchattacks' ``FGSM`` and snnlab's own functions.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import nn

from ..evaluation.smoothing import certified_radius, lower_confidence_bound
from ..models.detector import detection_threshold
from ..poisoning.dataelixir import anomaly_index
from ..purifiers.losses import asymmetric
from ..purifiers.snn import bounded_correction

TOLERANCE = 1e-5


@dataclass
class Verdict:
    """The checker's answer: ``ok`` and a one-line ``message``. Truthy when right."""
    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _differs(got, want, names=(), strict: bool = False) -> str | None:
    """None when ``got`` matches ``want`` (tensors or tuples of tensors), else what differs.

    ``strict`` (the student's answer against the reference): where the reference is a tensor, the answer must
    be one too, of the same dtype, since the lesson's next cell uses it as one; otherwise a plain number or
    a list is converted before comparing (a known wrong answer may return one).
    """
    got, want = _as_tuple(got), _as_tuple(want)
    if len(got) != len(want):
        return f"returned {len(got)} value(s), expected {len(want)}" + (f" ({', '.join(names)})" if names else "")
    for i, (g, w) in enumerate(zip(got, want)):
        where = f"{names[i] if i < len(names) else f'value {i + 1}'}: " if len(want) > 1 else ""
        if strict and torch.is_tensor(w):
            if not torch.is_tensor(g):
                return (f"{where}returned a {type(g).__name__}, expected a torch.Tensor (the next cell uses it as "
                        f"one); build it from tensor operations on the inputs")
            if g.dtype != w.dtype:
                return f"{where}dtype {g.dtype}, expected {w.dtype}" + (
                    " (.float() turns a comparison's True/False into 1.0/0.0)" if g.dtype == torch.bool else "")
        if not torch.is_tensor(w):  # a known wrong answer may return a plain number
            w = torch.as_tensor(w, dtype=torch.float64)
        if not torch.is_tensor(g):
            try:
                g = torch.as_tensor(g, dtype=w.dtype)
            except (TypeError, ValueError, RuntimeError):
                return f"{where}returned {type(g).__name__}, expected a tensor"
        if g.shape != w.shape:
            return f"{where}shape {tuple(g.shape)}, expected {tuple(w.shape)}"
        g = g.detach().to(w.dtype)
        if not torch.isfinite(g).all():
            return f"{where}contains NaN or infinity"
        if not torch.allclose(g, w, atol=TOLERANCE, rtol=TOLERANCE):
            return f"{where}largest difference from the expected value is {(g - w).abs().max().item():.3g}"
    return None


class Returned(Exception):
    """Raised by a checker's wrapper when the student's function returned the wrong kind of value: the
    verdict says what came back (not "your function raised")."""


def _number(value, what: str) -> float:
    """``value`` as a float when it is a number or a one-element tensor; else :class:`Returned` saying why."""
    if torch.is_tensor(value) and value.numel() == 1:
        return float(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's floats too
        return float(value)
    kind = f"a tensor of shape {tuple(value.shape)}" if torch.is_tensor(value) else f"a {type(value).__name__}"
    raise Returned(f"returned {kind}, expected {what} (a float or a one-element tensor)")


def _check(exercise: str, student, cases, reference, mistakes, hint: str, done: str, names=(),
           given=None) -> Verdict:
    """Run ``student`` and ``reference`` on every case (a tuple of arguments, or a callable making one).

    ``mistakes``: ``[(wrong_function, hint)]``; if the student's output matches a known wrong answer on
    every case, that hint is given; if the student's function raises, a known wrong answer that returned the
    same on the earlier cases and raises the same error (type and message) on this one gives its hint.
    Otherwise the first difference and the general ``hint``. ``given``: what the student passed, when
    ``student`` wraps it. Every function gets its own copies of the inputs, so one that changes its arguments
    in place cannot spoil the comparison.
    """
    given = student if given is None else given
    if not callable(given):
        return Verdict(exercise, False, f"{exercise}: expected a function, got {type(given).__name__}.")
    outputs = []
    for case in cases:
        args = case() if callable(case) else case
        try:
            outputs.append((args, student(*_fresh(args))))
        except NotImplementedError:
            return Verdict(exercise, False, f"{exercise}: not written yet. Replace the ... lines and delete "
                                            f"the `raise NotImplementedError` line, then run this cell again.")
        except Returned as wrong_kind:
            return Verdict(exercise, False, f"{exercise}: not yet; {wrong_kind}. Hint: {hint}")
        except Exception as error:  # noqa: BLE001 - any error in student code is reported, not raised
            known = _known_error(error, args, outputs, mistakes)
            return Verdict(exercise, False, f"{exercise}: your function raised {type(error).__name__}: {error}. "
                                            f"Hint: {known or hint}")
    problems = []
    for args, got in outputs:
        problem = _differs(got, reference(*_fresh(args)), names, strict=True)
        if problem:
            problems.append((args, got, problem))
    if not problems:
        return Verdict(exercise, True, f"{exercise}: right. {done}")
    for wrong, wrong_hint in mistakes:
        if all(_same(got, wrong, args) for args, got in outputs):
            return Verdict(exercise, False, f"{exercise}: not yet; {problems[0][2]}. Hint: {wrong_hint}")
    return Verdict(exercise, False, f"{exercise}: not yet; on {len(problems)} of {len(outputs)} test inputs, "
                                    f"{problems[0][2]}. Hint: {hint}")


def _known_error(error: Exception, args, earlier, mistakes) -> str | None:
    """The hint of a known mistake that raises ``error`` (same type, same message) on ``args`` and agreed with
    the student's outputs on the ``earlier`` cases; None if there is none."""
    for wrong, wrong_hint in mistakes:
        if not all(_same(got, wrong, a) for a, got in earlier):
            continue
        try:
            wrong(*_fresh(args))
        except Exception as theirs:  # noqa: BLE001 - the known mistake is meant to raise here
            if type(theirs) is type(error) and str(theirs) == str(error):
                return wrong_hint
    return None


def _same(got, wrong, args) -> bool:
    """True when ``got`` equals a known wrong answer's output on ``args`` (False if that answer cannot run)."""
    try:
        return _differs(got, wrong(*_fresh(args))) is None
    except Exception:  # noqa: BLE001 - a mistake that cannot run on this input simply does not match
        return False


def _fresh(args):
    """Copies of tensor arguments (with their requires_grad), so one function cannot change another's input."""
    return tuple(a.detach().clone().requires_grad_(a.requires_grad) if torch.is_tensor(a) else a for a in args)


# ---------------------------------------------------------------- lesson 1: one LIF step

def lif_step_reference(membrane, current, beta, threshold):
    """snntorch's ``Leaky`` with a subtractive reset: ``(spike, membrane)`` after one step."""
    import snntorch

    neuron = snntorch.Leaky(beta=beta, threshold=threshold, reset_mechanism="subtract")
    with torch.no_grad():
        return neuron(current, membrane)


def _lif_cases():
    g = torch.Generator().manual_seed(1)
    membrane = torch.rand(64, generator=g) * 2.5  # some above the threshold: they fired last step
    current = torch.rand(64, generator=g) * 0.8
    tie = (torch.tensor([1.0, 0.5, 2.0]), torch.tensor([0.5, 0.75, 0.0]), 0.5, 1.0)  # membranes exactly at Vth
    return [(membrane, current, 0.9, 1.0), (membrane * 0.5, current + 0.3, 0.5, 0.8), tie]


def _lif_no_reset(membrane, current, beta, threshold):
    new = beta * membrane + current
    return (new > threshold).float(), new


def _lif_reset_now(membrane, current, beta, threshold):
    new = beta * membrane + current
    spike = (new > threshold).float()
    return spike, new - spike * threshold


def _lif_reset_zero(membrane, current, beta, threshold):
    new = torch.where(membrane > threshold, torch.zeros_like(membrane), beta * membrane) + current
    return (new > threshold).float(), new


def _lif_leak_after(membrane, current, beta, threshold):
    new = beta * (membrane + current) - (membrane > threshold).float() * threshold
    return (new > threshold).float(), new


def check_lif_step(lif_step) -> Verdict:
    """Lesson 1: ``lif_step(membrane, current, beta, threshold) -> (spike, membrane)``, one step of
    ``U[t] = beta U[t-1] + I[t] - S[t-1] Vth``, ``S[t] = H(U[t] - Vth)``, compared with ``snntorch.Leaky``."""
    return _check(
        "lif_step", lif_step, _lif_cases(), lif_step_reference,
        [(_lif_no_reset, "there is no reset: subtract the threshold where the previous membrane was above it."),
         (_lif_reset_now, "you subtract this step's spike; the equation (and snntorch) subtracts the previous "
                          "step's, S[t-1] = H(U[t-1] - Vth), so the reset shows one step later."),
         (_lif_reset_zero, "you reset the membrane to zero; this neuron subtracts the threshold instead "
                           "(reset_mechanism='subtract')."),
         (_lif_leak_after, "the leak applies to the old membrane only: beta * U[t-1] + I[t], not beta * (U + I).")],
        "leak the old membrane by beta, add the current, subtract Vth where the old membrane was above Vth; "
        "then spike where the new membrane is strictly above Vth.",
        "Your neuron matches snntorch.Leaky(reset_mechanism='subtract') step for step.", ("spike", "membrane"))


# ---------------------------------------------------------------- lesson 2: FGSM by hand

def fgsm_reference(model, images, labels, eps):
    """torchattacks' FGSM: ``clamp(x + eps * sign(grad_x CE(model(x), y)), 0, 1)``."""
    import torchattacks

    return torchattacks.FGSM(model, eps=eps)(images, labels)


def _tiny_classifier() -> nn.Module:
    with torch.random.fork_rng():  # a fixed model, without resetting the student's random state
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10))
    return model.eval()


def _fgsm_cases():
    model = _tiny_classifier()
    g = torch.Generator().manual_seed(2)
    images = torch.rand(32, 1, 8, 8, generator=g).round()  # many pixels at 0 or 1, so clipping matters
    images[::2] = torch.rand(16, 1, 8, 8, generator=g)
    labels = torch.randint(0, 10, (32,), generator=g)
    return [(model, images, labels, 0.1), (model, images, labels, 0.25)]


def _gradient(model, images, labels):
    images = images.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(images), labels)
    return torch.autograd.grad(loss, images)[0]


def _fgsm_no_sign(model, images, labels, eps):
    return (images + eps * _gradient(model, images, labels)).clamp(0, 1)


def _fgsm_descent(model, images, labels, eps):
    return (images - eps * _gradient(model, images, labels).sign()).clamp(0, 1)


def _fgsm_no_clamp(model, images, labels, eps):
    return images + eps * _gradient(model, images, labels).sign()


def _fgsm_tuple(model, images, labels, eps):
    images = images.clone().requires_grad_(True)
    grad = torch.autograd.grad(nn.functional.cross_entropy(model(images), labels), images)  # a tuple, not unpacked
    return (images + eps * grad.sign()).clamp(0, 1).detach()


def check_fgsm(fgsm) -> Verdict:
    """Lesson 2: ``fgsm(model, images, labels, eps) -> adversarial images``, compared with torchattacks.FGSM."""
    return _check(
        "fgsm", fgsm, _fgsm_cases(), fgsm_reference,
        [(_fgsm_no_sign, "FGSM steps by eps along the *sign* of the gradient (every pixel moves by exactly eps), "
                         "not along the gradient itself."),
         (_fgsm_descent, "you step down the loss (x - eps * sign); the attacker wants the loss up: x + eps * sign."),
         (_fgsm_no_clamp, "clip the result to the valid pixel range with .clamp(0, 1)."),
         (_fgsm_tuple, "torch.autograd.grad returns a tuple, one gradient per input you asked about (here one): "
                       "unpack it, or take its first element, before calling .sign().")],
        "take the gradient of the cross-entropy loss with respect to the images, step by eps along its sign, "
        "clip to [0, 1].",
        "Your FGSM matches torchattacks.FGSM.")


# ---------------------------------------------------------------- lesson 3: the asymmetric loss

def asymmetric_loss_reference(sigma_hat, sigma, alpha):
    return asymmetric(sigma_hat, sigma, alpha)


def _asymmetric_cases():
    g = torch.Generator().manual_seed(3)
    sigma = torch.rand(4, 1, 8, 8, generator=g) * 0.2
    sigma_hat = sigma + (torch.rand(4, 1, 8, 8, generator=g) - 0.5) * 0.2  # under- and over-estimates
    return [(sigma_hat, sigma, 0.3), (sigma_hat, sigma, 0.1)]


def _asymmetric_flipped(sigma_hat, sigma, alpha):
    over = (sigma - sigma_hat < 0).float()
    return ((alpha - over).abs() * (sigma_hat - sigma) ** 2).mean()


def _asymmetric_abs(sigma_hat, sigma, alpha):
    under = (sigma_hat - sigma < 0).float()
    return ((alpha - under).abs() * (sigma_hat - sigma).abs()).mean()


def _asymmetric_sum(sigma_hat, sigma, alpha):
    under = (sigma_hat - sigma < 0).float()
    return ((alpha - under).abs() * (sigma_hat - sigma) ** 2).sum()


def check_asymmetric_loss(asymmetric_loss) -> Verdict:
    """Lesson 3: ``asymmetric_loss(sigma_hat, sigma, alpha) -> scalar``, compared with
    snnlab.purifiers.losses.asymmetric."""
    return _check(
        "asymmetric_loss", asymmetric_loss, _asymmetric_cases(), asymmetric_loss_reference,
        [(_asymmetric_flipped, "your indicator fires on over-estimates, so they cost 1 - alpha; it should fire "
                               "on under-estimates, 1[sigma_hat - sigma < 0]."),
         (_asymmetric_abs, "square the error: (sigma_hat - sigma) ** 2, not its absolute value."),
         (_asymmetric_sum, "average over pixels with .mean(), not .sum().")],
        "compare term by term with the formula above: the squared error, its weight |alpha - indicator| whose "
        "indicator is 1 on under-estimates (sigma_hat below sigma), and the mean over pixels.",
        "Under-estimates cost 1 - alpha, over-estimates alpha, as in snnlab.purifiers.losses.asymmetric.")


# ---------------------------------------------------------------- lesson 4: the bounded correction

def bounded_correction_reference(images, sigma, raw):
    return bounded_correction(images, sigma, raw)


def _bounded_cases():
    g = torch.Generator().manual_seed(4)
    images = torch.rand(8, 1, 8, 8, generator=g)
    sigma = torch.rand(8, 1, 8, 8, generator=g) * 0.3
    raw = torch.randn(8, 1, 8, 8, generator=g) * 2
    return [(images, sigma, raw), (images.round(), sigma, -raw)]


def _bounded_no_tanh(images, sigma, raw):
    return (images - sigma * raw).clamp(0, 1)


def _bounded_plus(images, sigma, raw):
    return (images + sigma * torch.tanh(raw)).clamp(0, 1)


def _bounded_no_clamp(images, sigma, raw):
    return images - sigma * torch.tanh(raw)


def check_bounded_correction(bounded_correction) -> Verdict:
    """Lesson 4: ``bounded_correction(images, sigma, raw) -> purified``, compared with the purifier's own."""
    return _check(
        "bounded_correction", bounded_correction, _bounded_cases(), bounded_correction_reference,
        [(_bounded_no_tanh, "squash RecSNN's raw output into (-1, 1) with tanh before scaling it by the noise map, "
                            "so that the noise is at most sigma in size; raw itself is unbounded."),
         (_bounded_plus, "RecSNN predicts the noise, so the purified image is the image *minus* it, not plus."),
         (_bounded_no_clamp, "clip the purified image to the valid pixel range with .clamp(0, 1).")],
        "the noise is RecSNN's raw output squashed into (-1, 1) by tanh and scaled by the noise map sigma; "
        "subtract it from the images and clip to the valid pixel range.",
        "No pixel moves by more than NeSNN's noise estimate, as in snnlab.purifiers.snn.")


# ---------------------------------------------------------------- lesson 5: a threshold at a false-positive rate

def threshold_at_fpr_reference(clean_scores, fpr):
    return torch.tensor(detection_threshold(clean_scores, fpr))


def _threshold_cases():
    g = torch.Generator().manual_seed(5)
    scores = torch.rand(200, generator=g) * 0.3
    return [(scores, 0.01), (scores, 0.05), (scores[:37], 0.1), (scores, 0.0)]


def _flags(scores, threshold):
    if (isinstance(threshold, numbers.Integral) and not isinstance(threshold, bool)) or (
            torch.is_tensor(threshold) and not threshold.is_floating_point()):
        raise Returned(f"returned the integer {int(threshold)}: a count (a position in the sorted scores), not a "
                       f"score; the threshold is the clean score at that position")
    flagged = (scores > _number(threshold, "a threshold score")).float()  # (n,)
    return flagged.sum(), flagged


def _threshold_low_side(clean_scores, fpr):
    return torch.quantile(clean_scores, fpr)


def _threshold_off_by_one(clean_scores, fpr):
    ranked = clean_scores.sort().values
    return ranked[min(int((1 - fpr) * len(ranked)), len(ranked) - 1)]


def _threshold_ceil_index(clean_scores, fpr):  # ranked[k] for the k-th smallest: past the end when fpr = 0
    ranked = clean_scores.sort().values
    return ranked[math.ceil((1 - fpr) * len(ranked))]


def _threshold_count(clean_scores, fpr):  # the position, not the score there
    return torch.tensor(float(max(math.ceil((1 - fpr) * len(clean_scores)), 1)))


def check_threshold_at_fpr(threshold_at_fpr) -> Verdict:
    """Lesson 5: ``threshold_at_fpr(clean_scores, fpr) -> threshold`` flagging (score > threshold) the same
    clean images as snnlab.models.detector.detection_threshold: at most ``fpr`` of them, and no fewer than needed."""
    def flagged(fn):
        return lambda scores, fpr: _flags(scores, fn(scores, fpr))

    return _check(
        "threshold_at_fpr", flagged(threshold_at_fpr), _threshold_cases(), flagged(threshold_at_fpr_reference),
        [(flagged(_threshold_low_side), "your threshold flags most clean images: the false-positive rate is the "
                                        "share *above* the threshold, so take the (1 - fpr) end of the sorted scores."),
         (flagged(_threshold_off_by_one), "your threshold flags one clean image fewer than allowed on some inputs: "
                                          "the ceil((1 - fpr) * n)-th smallest score sits at index "
                                          "ceil((1 - fpr) * n) - 1, since Python counts from 0."),
         (flagged(_threshold_ceil_index), "ranked[k] with k = ceil((1 - fpr) * n) is one past the k-th smallest "
                                          "score, and past the end of the list when fpr = 0: Python counts from 0, "
                                          "so the k-th smallest sits at index k - 1."),
         (flagged(_threshold_count), "your threshold flags no clean image at all, at any fpr: it lies above every "
                                     "score. Return the score at position k - 1 of the sorted scores, not the "
                                     "position (a count).")],
        "sort the clean scores and take the ceil((1 - fpr) * n)-th smallest; an image is flagged when its "
        "score is strictly above the threshold.",
        "It flags the same clean images as snnlab.models.detector.detection_threshold.",
        ("number of clean images flagged", "which clean images are flagged"), given=threshold_at_fpr)


# ---------------------------------------------------------------- lesson 6: a BPDA wrapper

def bpda_reference(purifier, images):
    """Forward ``purifier(images)``, backward the identity (Athalye et al.'s BPDA)."""
    return images + (purifier(images) - images).detach()


def _smooth_purifier(images):
    return 0.5 * images**2 + 0.25  # gradient images, not 1: a wrong backward shows


def _bpda_cases():
    g = torch.Generator().manual_seed(6)
    weights = torch.randn(4, 1, 8, 8, generator=g)
    return [lambda: (_smooth_purifier, torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(7)), weights)]


def _forward_and_grad(bpda):
    """Turn ``bpda(purifier, images)`` into ``(purifier, images, weights) -> (output, d sum(w * out) / d images)``."""
    def run(purifier, images, weights):
        images = images.detach().clone().requires_grad_(True)
        out = bpda(purifier, images)
        if not torch.is_tensor(out):
            raise Returned(f"returned a {type(out).__name__}, expected a tensor shaped like the images")
        if not out.requires_grad:
            return out.detach(), torch.zeros_like(images)
        grad, = torch.autograd.grad((out * weights).sum(), images, allow_unused=True)
        return out.detach(), torch.zeros_like(images) if grad is None else grad
    return run


def check_bpda(bpda) -> Verdict:
    """Lesson 6: ``bpda(purifier, images) -> purified`` whose forward is ``purifier(images)`` and whose
    gradient is the identity's."""
    return _check(
        "bpda", _forward_and_grad(bpda), _bpda_cases(), _forward_and_grad(bpda_reference),
        [(_forward_and_grad(lambda p, x: p(x)), "the gradient went through the purifier; BPDA's gradient is the "
                                                 "identity's, so the purifier's part must be cut out of the graph "
                                                 "(.detach()) while the images themselves stay in it."),
         (_forward_and_grad(lambda p, x: p(x).detach()), "no gradient reaches the images: detach only what the "
                                                          "purifier changes, not the images themselves."),
         (_forward_and_grad(lambda p, x: x + p(x).detach()), "the forward value must be P(x) exactly, and x + P(x) "
                                                              "is not: what you add to the images must be the "
                                                              "purifier's *change* to them.")],
        "the value must be P(x) and the gradient the identity's: start from the images themselves and add a "
        "correction that has the value P(x) - x but carries no gradient.",
        "Forward is the purifier's output, backward is the identity.", ("forward output", "gradient"), given=bpda)


# ---------------------------------------------------------------- lesson 7: a certified radius

def certified_radius_reference(votes, n, sigma, alpha):
    """Cohen et al.'s radius from ``votes`` of ``n`` for the top class; 0.0 when abstaining."""
    return torch.tensor(certified_radius(lower_confidence_bound(int(votes), int(n), alpha), sigma), dtype=torch.float64)


_RADIUS_CASES = [(990, 1000, 0.5, 0.001), (1000, 1000, 0.25, 0.001), (700, 1000, 0.5, 0.01), (520, 1000, 0.5, 0.001),
                 (95, 100, 1.0, 0.05)]


def _radius_point_estimate(votes, n, sigma, alpha):
    return certified_radius(min(votes / n, 1 - 1e-12), sigma)


def _radius_two_sided(votes, n, sigma, alpha):
    return certified_radius(lower_confidence_bound(int(votes), int(n), alpha / 2), sigma)


def _radius_no_abstain(votes, n, sigma, alpha):
    from scipy.stats import norm

    return sigma * float(norm.ppf(lower_confidence_bound(int(votes), int(n), alpha)))


def _radius_no_sigma(votes, n, sigma, alpha):
    return float(certified_radius_reference(votes, n, 1.0, alpha))


def check_certified_radius(certified_radius) -> Verdict:
    """Lesson 7: ``certified_radius(votes, n, sigma, alpha) -> L2 radius`` (0.0 when abstaining), compared with
    :mod:`snnlab.evaluation.smoothing` (Clopper-Pearson lower bound, ``sigma * Phi^-1``)."""
    def as_number(votes, n, sigma, alpha):  # the next cell formats the radius as a number
        return torch.tensor(_number(certified_radius(votes, n, sigma, alpha), "a radius"), dtype=torch.float64)

    return _check(
        "certified_radius", as_number, _RADIUS_CASES, certified_radius_reference,
        [(_radius_point_estimate, "you used the share of votes itself; a certificate needs a *lower confidence "
                                  "bound* on it, the one-sided Clopper-Pearson bound of the exercise's text."),
         (_radius_two_sided, "the bound is one-sided: use alpha, not alpha / 2."),
         (_radius_no_abstain, "when the lower bound is below 1/2 nothing is certified: return 0.0 (abstain), "
                              "not a negative radius."),
         (_radius_no_sigma, "multiply by sigma: R = sigma * Phi^-1(p_lower).")],
        "the lower bound is the alpha quantile of a Beta(votes, n - votes + 1) distribution; abstain (0.0) when it "
        "is below 1/2, else scale the standard normal quantile of the bound by sigma.",
        "Your radius matches snnlab.evaluation.smoothing's CERTIFY.", given=certified_radius)


def _kl_case(seed: int):
    kl = torch.rand(10, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 0.3
    kl[seed % 10] += 1.5  # one target label
    return (kl,)


_ANOMALY_CASES = [lambda s=s: _kl_case(s) for s in range(4)]


def anomaly_index_reference(kl):
    return anomaly_index(kl)


def _anomaly_unscaled(kl):
    median = kl.quantile(0.5)
    return (kl - median) / (kl - median).abs().quantile(0.5)


def _anomaly_two_sided(kl):
    return anomaly_index_reference(kl).abs()


def _anomaly_clamped(kl):
    return anomaly_index_reference(kl).clamp(min=0)


def _anomaly_std(kl):
    return (kl - kl.quantile(0.5)) / kl.std()


def _anomaly_mean(kl):
    return (kl - kl.mean()) / (1.4826 * (kl - kl.quantile(0.5)).abs().quantile(0.5))


def _anomaly_lower_median(kl):
    return (kl - kl.median()) / (1.4826 * (kl - kl.median()).abs().median())


def check_anomaly_index(anomaly_index) -> Verdict:
    """Lesson 8: ``anomaly_index(kl) -> (kl - median) / (1.4826 * MAD)`` per label, compared with
    :func:`snnlab.poisoning.dataelixir.anomaly_index`."""
    return _check(
        "anomaly_index", anomaly_index, _ANOMALY_CASES, anomaly_index_reference,
        [(_anomaly_unscaled, "scale the MAD by 1.4826, which makes it estimate the standard deviation of normal "
                             "data, so 'above 2' means 'two standard deviations'."),
         (_anomaly_two_sided, "keep the sign: a label whose KL lies far *below* the median is not a target."),
         (_anomaly_clamped, "keep the sign, do not clamp at 0: the index of a value below the median is negative."),
         (_anomaly_std, "use the median absolute deviation, not the standard deviation: the target's own outlying "
                        "KL inflates the standard deviation and hides itself."),
         (_anomaly_mean, "subtract the median, not the mean: the outlier drags the mean towards itself."),
         (_anomaly_lower_median, "torch's .median() returns the lower of the two middle values of an even count; "
                                 "the median is their mean: use .quantile(0.5).")],
        "subtract the median of kl (the mean of the two middle values), and divide by 1.4826 times the median of "
        "the absolute deviations from that median; keep the sign, and return a tensor like kl.",
        "Your index matches snnlab.poisoning.dataelixir.anomaly_index.")


CHECKERS = {"lif_step": check_lif_step, "fgsm": check_fgsm, "asymmetric_loss": check_asymmetric_loss,
            "bounded_correction": check_bounded_correction, "threshold_at_fpr": check_threshold_at_fpr,
            "bpda": check_bpda, "certified_radius": check_certified_radius,
            "anomaly_index": check_anomaly_index}
