"""APGD with any loss: Croce & Hein's step-size rule and momentum, written once.

Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble
of diverse parameter-free attacks", ICML 2020 (AutoAttack). Per image:

- the step size starts at ``2 eps``; at checkpoints ``w_j`` (the first after
  22% of the steps, then intervals shrinking by 3% of the steps to at least
  6%) it is halved, and the iterate reset to the best point so far, when
  (1) at most ``rho = 0.75`` of the steps since the last checkpoint raised the
  loss, or (2) the step was not halved at the last checkpoint and the best
  loss has not risen since;
- momentum 0.75: ``z = P(x + eta sign(grad))``,
  ``x_next = P(x + 0.75 (z - x) + 0.25 (x - x_prev))`` (plain step first);
- random start inside the ball; later restarts (and, for the targeted loss,
  later target classes) run only on the images not yet broken.

Written by hand because torchattacks' APGD takes only its own CE and DLR
losses on a plain classifier. This one takes any loss of
:mod:`snnlab.attacks.objectives`, the joint defence's detector penalty, an
attack-time surrogate, BPDA and EOT, and keeps per image the best iterate
judged by the real forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data.datasets import check_images
from ..devices import follow
from .core import BestIterate, attack_view, auto_eot, frozen, is_defense, is_random, project
from .objectives import LOSSES, classification_loss


def checkpoints(steps: int) -> list:
    """The iterations (1-based) after which APGD may halve its step: 22% in, then shrinking intervals."""
    interval, shrink, shortest = max(int(0.22 * steps), 1), max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    points, at = [], interval
    while at <= steps:
        points.append(at)
        interval = max(interval - shrink, shortest)
        at += interval
    return points


@dataclass
class APGD:
    """APGD (L-infinity) with any loss, on a classifier or on the whole joint defence.

    Distance Measure: Linf.

    Arguments:
        target: a classifier (images -> logits) or a JointDefense.
        eps: radius (default 0.1). steps: iterations (default 100). restarts: random restarts (default 1).
        loss: 'ce', 'dlr' or 'dlr-targeted' (default 'ce').
        targets: for 'dlr-targeted', how many target classes to try (the next most likely classes
            on the clean image, as APGD-T; default 3, AutoAttack's standard version uses 9), each with
            ``restarts`` restarts.
        surrogate: attack-time MLF surrogate (a name in ``SURROGATES``; None: the model's own).
        purifier / gate / temperature: the defence's backward pass (see :class:`BPDADefense`).
        detector_penalty: on a defence, subtract ``penalty * relu(s(x) - threshold + margin)``
            from the loss (the detector-aware objective); 0 (default) ignores the detector.
        margin: how far under the threshold the penalty aims.
        evade: keep the example that is wrong *and* unflagged when there is one (default: on
            when ``detector_penalty`` > 0).
        rho / momentum: Croce & Hein's 0.75 and 0.75.
        eot: gradient samples per step (EOT); default 10 against a random defence, 1 otherwise.
        seed: random start seed.
        drop_broken: against a deterministic target, stop computing an image once it is broken (at the
            top rank): the same result for less work (default True; a random target always keeps all).

    Shape: images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images like ``images``.

    Examples::

        >>> adv = APGD(classifier, eps=0.1, loss="dlr", surrogate="rect-0.5")(images, labels)
        >>> adv = APGD(defense, eps=0.1, detector_penalty=10.0)(images, labels)
    """

    target: nn.Module
    eps: float = 0.1
    steps: int = 100
    restarts: int = 1
    loss: str = "ce"
    targets: int = 3
    surrogate: object = None
    purifier: str = "surrogate"
    gate: str = "hard"
    temperature: float = 0.02
    detector_penalty: float = 0.0
    margin: float = 0.01
    evade: bool | None = None
    rho: float = 0.75
    momentum: float = 0.75
    eot: int | None = None  # None: 10 against a random defence, else 1
    seed: int = 0
    drop_broken: bool = True

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of: {', '.join(LOSSES)}")
        self.eot = auto_eot(self.target, self.eot)
        if self.steps < 1 or self.restarts < 1 or self.eot < 1:
            raise ValueError("steps, restarts and eot must be at least 1")
        self.defended = is_defense(self.target)
        if self.detector_penalty and not self.defended:
            raise ValueError("detector_penalty needs a joint defence (a model with a detector)")
        self.view = attack_view(self.target, self.surrogate, self.purifier, self.gate, self.temperature)
        self.threshold = self.target.detector.threshold if self.defended else None
        if self.evade is None:
            self.evade = self.detector_penalty > 0
        self.drop_broken = self.drop_broken and not is_random(self.target)

    def _evaluate(self, adv, labels, targets, ranker=None):
        """Per-image loss, its gradient, the detached logits and scores (real forward) at ``adv``, and with
        ``ranker`` (BestIterate.ranks) the per-image rank averaged over the EOT draws (None without)."""
        grad, total = torch.zeros_like(adv), torch.zeros(len(adv), device=adv.device)
        rank = torch.zeros(len(adv), device=adv.device)
        for _ in range(self.eot):
            with torch.enable_grad():  # also when called under torch.no_grad()
                adv = adv.detach().requires_grad_(True)
                logits, scores = self.view(adv)
                loss = classification_loss(self.loss, logits, labels, targets)  # (n,)
                if self.detector_penalty:
                    loss = loss - self.detector_penalty * F.relu(scores - self.threshold + self.margin)
                grad += torch.autograd.grad(loss.sum(), adv)[0]
            total += loss.detach()
            if ranker is not None:
                rank += ranker(logits.detach(), None if scores is None else scores.detach(), labels).to(rank.dtype)
        # loss, gradient and rank averaged over the EOT samples; logits and scores from the last sample
        return (total / self.eot, grad / self.eot, logits.detach(), None if scores is None else scores.detach(),
                rank / self.eot if ranker is not None else None)

    def _run(self, images, labels, targets, best: BestIterate, index, generator):
        """One APGD run on the images ``index`` of the batch; updates ``best``."""
        x, y = images[index], labels[index]  # (n, C, H, W), (n,)
        t = targets[index] if targets is not None else None
        noise = torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1
        noise = noise / noise.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
        adv = project(x + self.eps * noise, x, self.eps)
        step = torch.full((len(x), 1, 1, 1), 2 * self.eps, device=x.device)
        loss, grad, logits, scores, rank = self._evaluate(adv, y, t, best.ranks)
        best.update(adv, logits, scores, y, index, rank)
        x_best, grad_best, loss_best = adv.clone(), grad.clone(), loss.clone()
        loss_best_at_check, reduced_at_check = loss_best.clone(), torch.ones_like(loss, dtype=torch.bool)
        rises, last_check, previous, prev_loss = torch.zeros_like(loss), 0, adv, loss
        marks = set(checkpoints(self.steps))
        for i in range(self.steps):
            if self.drop_broken:  # the broken images are done (BestIterate.still_open): carry on with the rest
                keep = best.still_open(index)
                if not keep.any():
                    return
                if not keep.all():
                    index, x, y, adv, previous, grad, step, x_best, grad_best, loss_best, prev_loss, rises = (
                        v[keep] for v in (index, x, y, adv, previous, grad, step, x_best, grad_best, loss_best,
                                          prev_loss, rises))
                    loss_best_at_check, reduced_at_check = loss_best_at_check[keep], reduced_at_check[keep]
                    t = t[keep] if t is not None else None
            with torch.no_grad():
                z = project(adv + step * grad.sign(), x, self.eps)
                a = 1.0 if i == 0 else self.momentum
                adv, previous = project(adv + a * (z - adv) + (1 - a) * (adv - previous), x, self.eps), adv
            loss, grad, logits, scores, rank = self._evaluate(adv, y, t, best.ranks)
            best.update(adv, logits, scores, y, index, rank)
            with torch.no_grad():
                rises += (loss > prev_loss).to(loss.dtype)
                prev_loss = loss
                improved = loss > loss_best
                x_best[improved], grad_best[improved], loss_best[improved] = (
                    adv[improved], grad[improved], loss[improved])
                if i + 1 in marks:
                    oscillating = rises <= self.rho * (i + 1 - last_check)
                    stalled = ~reduced_at_check & (loss_best_at_check >= loss_best)
                    reduce = oscillating | stalled
                    reduced_at_check, loss_best_at_check = reduce, loss_best.clone()
                    step[reduce] /= 2
                    adv[reduce], grad[reduce] = x_best[reduce], grad_best[reduce]
                    rises.zero_()
                    last_check = i + 1

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with frozen(self.target):  # the input's gradient alone, not the weights' (core.frozen)
            return self._attack(images, labels)

    def _attack(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_images(images)
        if labels.shape != images.shape[:1]:
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        images, labels = follow(self.target, images, labels)
        self.target.eval()
        generator = torch.Generator().manual_seed(self.seed)  # on the CPU: the same draws on every device
        best = BestIterate(images, self.threshold, self.evade)
        ranked = None
        if self.loss == "dlr-targeted":
            with torch.no_grad():
                ranked = self.view(images)[0].sort(1, descending=True).indices  # (N, classes)
        for k in range(self.targets if ranked is not None else 1):
            targets = None
            if ranked is not None:  # the (k+2)-th most likely class, or the runner-up if that is the label
                targets = torch.where(ranked[:, k + 1] == labels, ranked[:, 0], ranked[:, k + 1])
            for _ in range(self.restarts):
                index = best.open()
                if len(index) == 0:
                    return best.best.detach()
                self._run(images, labels, targets, best, index, generator)
        return best.best.detach()
