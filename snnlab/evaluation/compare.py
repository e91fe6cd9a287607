"""Is one attack, model or setting stronger than another, or do they tie? Comparisons with noise.

A robustness figure is a share of images, and a share of 48 (or 100, or 360)
images moves by a few points when one image moves. Before a lesson says "A is
stronger than B" or "C is the best", the difference has to be larger than that
noise. One rule for the whole course:

    **Two shares tie unless they differ by more than two images and by more
    than two standard errors of their difference.**

- On the **same images** (per-image results, :func:`pair`), the comparison is
  paired: only the images on which the two disagree carry information. With
  ``only_first`` images right under A alone and ``only_second`` under B alone,
  the difference is ``(only_first - only_second) / n`` and its standard error,
  were the two equally strong, ``sqrt(only_first + only_second) / n``: the rule
  is then McNemar's test at z = 2 (four images one way and none the other tie;
  five do not). The exact McNemar p-value (a binomial test on the disagreeing
  images; scipy) is reported beside it for reference; the verdict uses the
  rule above.
- From **shares alone** (saved tables that kept no per-image results,
  :func:`pair` with ``n``), the standard error is the unpaired one,
  ``sqrt(p1 (1 - p1) / n + p2 (1 - p2) / n)``. Results on the same images are
  usually positively correlated, so this overstates the noise: it errs
  towards "tie".
- For more than two (:func:`rank`), the leader is the highest (or lowest)
  share, and every other that ties with the leader shares first place.

    >>> from snnlab import compare
    >>> compare.pair([1, 1, 0, 1], [1, 0, 0, 1], names=("A", "B")).tie     # one image apart
    True
    >>> compare.rank({"fixed": 0.646, "decaying": 0.604, "apgd": 0.604}, n=48, best="lowest").best
    ('decaying', 'apgd', 'fixed')

Written here (a few lines on top of scipy): statistics libraries test
hypotheses, but none phrases the course's "stronger, weaker or tie" verdict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch

IMAGES = 2  # a difference of at most this many images is a tie, whatever the standard error
STANDARD_ERRORS = 2.0  # ... and so is one within this many standard errors


def _per_image(values) -> torch.Tensor:
    """Per-image results (bools, 0/1 numbers, a tensor) as a flat float64 tensor of 0s and 1s."""
    t = torch.as_tensor(values).detach().flatten().to("cpu")
    if t.dtype != torch.bool and not ((t == 0) | (t == 1)).all():
        raise ValueError("per-image results must be True/False (or 1/0): one entry per image")
    return t.to(torch.float64)


def _is_share(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        torch.is_tensor(value) and value.dim() == 0)


@dataclass(frozen=True)
class Comparison:
    """Two shares measured on ``n`` images, and whether they differ beyond noise.

    ``difference = rates[0] - rates[1]``. ``only_first`` / ``only_second``: the images on which only the
    first / only the second result is 1 (paired comparisons; None from shares alone).
    """

    names: tuple
    rates: tuple
    n: int
    standard_error: float
    paired: bool
    only_first: int | None = None
    only_second: int | None = None
    p_value: float | None = None  # exact McNemar test (paired only), for reference

    @property
    def difference(self) -> float:
        return self.rates[0] - self.rates[1]

    @property
    def images(self) -> float:
        """The difference in images (a whole number when paired)."""
        return self.difference * self.n

    @property
    def tie(self) -> bool:
        """True unless the difference exceeds both IMAGES images and STANDARD_ERRORS standard errors."""
        return (abs(self.images) <= IMAGES + 1e-9
                or abs(self.difference) <= STANDARD_ERRORS * self.standard_error + 1e-12)

    @property
    def higher(self):
        """The name with the higher share, or None on a tie."""
        return None if self.tie else self.names[0 if self.difference > 0 else 1]

    @property
    def lower(self):
        """The name with the lower share, or None on a tie."""
        return None if self.tie else self.names[1 if self.difference > 0 else 0]

    def __str__(self) -> str:
        (a, b), (ra, rb) = self.names, self.rates
        what = (f"{a} {ra:.1%} vs {b} {rb:.1%} on {self.n} images: "
                + ("tie" if self.tie else f"{self.higher} higher"))
        detail = f"difference {abs(self.images):.0f} image(s), standard error {100 * self.standard_error:.1f} points"
        if self.paired:
            detail += f"; {self.only_first} right only under {a}, {self.only_second} only under {b}"
        return f"{what} ({detail})"

    __repr__ = __str__


def pair(first, second, names: Sequence = ("first", "second"), n: int | None = None) -> Comparison:
    """Compare two results: per-image 0/1 (or True/False) results on the same images (paired), or two
    shares in [0, 1] measured on ``n`` images each (unpaired). The verdict is :attr:`Comparison.tie`,
    :attr:`Comparison.higher` and :attr:`Comparison.lower` (the module's rule)."""
    names = tuple(names)
    if _is_share(first) and _is_share(second):
        if n is None or n < 1:
            raise ValueError("comparing two shares needs n, the number of images each was measured on")
        p, q = float(first), float(second)
        if not (0 <= p <= 1 and 0 <= q <= 1):
            raise ValueError(f"shares must lie in [0, 1], got {p} and {q}")
        se = math.sqrt((p * (1 - p) + q * (1 - q)) / n)
        return Comparison(names, (p, q), int(n), se, paired=False)
    a, b = _per_image(first), _per_image(second)
    if a.shape != b.shape:
        raise ValueError(f"per-image results must cover the same images: {len(a)} vs {len(b)} entries")
    if n is not None and n != len(a):
        raise ValueError(f"n={n} but {len(a)} per-image results were given")
    count = len(a)
    if count < 2:
        raise ValueError("a comparison needs at least two images")
    d = a - b  # (n,) in {-1, 0, 1}
    only_first, only_second = int((d > 0).sum()), int((d < 0).sum())
    se = math.sqrt(only_first + only_second) / count  # McNemar's: the SE of the difference were there none
    p_value = 1.0
    if only_first + only_second:
        from scipy.stats import binomtest  # scipy is a dependency; imported here only for this reference figure

        p_value = float(binomtest(min(only_first, only_second), only_first + only_second, 0.5).pvalue)
    return Comparison(names, (float(a.mean()), float(b.mean())), count, se, True, only_first, only_second, p_value)


@dataclass(frozen=True)
class Ranking:
    """Results ranked from best to worst; ``best``: the leader and every result that ties with it."""

    order: tuple  # names, best first
    rates: Mapping
    best: tuple  # the leader, then the others that tie with it, in order
    against_leader: Mapping = field(default_factory=dict)  # name -> Comparison(leader, name)
    direction: str = "highest"
    n: int = 0

    @property
    def tie(self) -> bool:
        """True when more than one result shares first place."""
        return len(self.best) > 1

    @property
    def winner(self):
        """The single best name, or None when first place is shared."""
        return None if self.tie else self.best[0]

    def __str__(self) -> str:
        shares = ", ".join(f"{name} {self.rates[name]:.1%}" for name in self.order)
        if len(self.best) == len(self.order):
            verdict = "all tie"
        elif self.tie:
            verdict = f"{self.direction}: {' and '.join(map(str, self.best))} (tied)"
        else:
            verdict = f"{self.direction}: {self.best[0]}"
        return f"{verdict} [{shares}; {self.n} images; a tie is within {IMAGES} images or " \
               f"{STANDARD_ERRORS:g} standard errors]"

    __repr__ = __str__


def rank(results: Mapping, best: str = "highest", n: int | None = None) -> Ranking:
    """Rank ``results`` (name -> per-image 0/1 results on the same images, or name -> share with ``n``).

    ``best``: 'highest' (e.g. a model's accuracy, a detector's detection rate) or 'lowest' (an attack: the
    lower the accuracy it leaves, the stronger). First place goes to the leader and to every result that
    ties with it (:func:`pair`'s rule, each against the leader).
    """
    if best not in ("highest", "lowest"):
        raise ValueError(f"best must be 'highest' or 'lowest', got {best!r}")
    if len(results) < 2:
        raise ValueError("ranking needs at least two results")
    names = list(results)
    rates = {}
    for name in names:
        value = results[name]
        rates[name] = float(value) if _is_share(value) else float(_per_image(value).mean())
    order = sorted(names, key=lambda k: rates[k], reverse=best == "highest")  # stable: ties keep their order
    leader = order[0]
    against = {name: pair(results[leader], results[name], (leader, name), n) for name in order[1:]}
    top = (leader,) + tuple(name for name in order[1:] if against[name].tie)
    count = next(iter(against.values())).n
    return Ranking(tuple(order), rates, top, against, best, count)
