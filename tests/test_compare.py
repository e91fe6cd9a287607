"""snnlab.compare: stronger, weaker or a tie, by one rule (two images and two standard errors)."""
import math

import pytest
import torch

from snnlab import compare


def _results(right: int, n: int = 48, start: int = 0):
    """Per-image results: images start..start+right-1 right, the rest wrong."""
    r = torch.zeros(n, dtype=torch.bool)
    r[start:start + right] = True
    return r


def test_identical_results_tie():
    a = _results(29)
    c = compare.pair(a, a.clone(), ("decaying step", "APGD"))
    assert c.tie and c.higher is None and c.lower is None
    assert c.difference == 0 and c.standard_error == 0 and c.p_value == 1.0
    assert "tie" in str(c) and "decaying step 60.4% vs APGD 60.4% on 48 images" in str(c)


def test_one_or_two_images_apart_is_a_tie_whatever_the_standard_error():
    for apart in (1, 2):
        c = compare.pair(_results(31 + apart), _results(31))  # nested: the SE is as small as it gets
        assert c.tie, c
        assert c.only_first == apart and c.only_second == 0
    c = compare.pair(_results(31 + 10), _results(31))
    assert not c.tie and c.higher == "first" and c.lower == "second"


def test_paired_standard_error_counts_only_the_images_that_disagree():
    a, b = _results(30), _results(30, start=5)  # 5 right only under a, 5 only under b: same share
    c = compare.pair(a, b)
    assert c.only_first == 5 and c.only_second == 5 and c.difference == 0 and c.tie
    assert c.standard_error == pytest.approx(math.sqrt(10) / 48)  # McNemar's, from the 10 that disagree
    # four disagreements one way, none the other: more than two images, but within two SE (McNemar, z = 2)
    c = compare.pair(_results(24), _results(20))
    assert round(c.images) == 4 and c.difference <= 2 * c.standard_error and c.tie
    c = compare.pair(_results(25), _results(20))  # five: not a tie
    assert not c.tie and c.higher == "first" and c.p_value == pytest.approx(0.0625)


def test_a_clear_difference_has_a_winner_and_a_small_p_value():
    c = compare.pair(_results(30, n=200), _results(86, n=200), ("PGD-40", "APGD-40"))
    assert not c.tie and c.higher == "APGD-40" and c.lower == "PGD-40"
    assert c.p_value < 1e-6 and c.paired


def test_shares_alone_use_the_unpaired_standard_error():
    c = compare.pair(0.36, 0.19, ("consistency", "noise-trained"), n=100)
    assert not c.paired and c.only_first is None
    assert c.standard_error == pytest.approx(math.sqrt((0.36 * 0.64 + 0.19 * 0.81) / 100))
    assert c.higher == "consistency"
    assert compare.pair(0.19, 0.19, n=100).tie and compare.pair(0.62, 0.57, n=100).tie


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="needs n"):
        compare.pair(0.5, 0.4)
    with pytest.raises(ValueError, match="same images"):
        compare.pair(_results(3, n=10), _results(3, n=12))
    with pytest.raises(ValueError, match="True/False"):
        compare.pair([0.5, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        compare.pair(1.5, 0.4, n=10)
    with pytest.raises(ValueError, match="'highest' or 'lowest'"):
        compare.rank({"a": 0.1, "b": 0.2}, "best", n=10)


def test_rank_shares_first_place_among_ties():
    # lesson 6, Exercise 4: accuracies an attack leaves on 48 images; the lower, the stronger
    ranking = compare.rank({"fixed step": 0.646, "decaying step": 0.604, "APGD": 0.604}, "lowest", n=48)
    assert ranking.best == ("decaying step", "APGD", "fixed step") and ranking.tie and ranking.winner is None
    assert str(ranking).startswith("all tie")
    clear = compare.rank({"PGD": _results(130, 200), "APGD": _results(86, 200), "FGSM": _results(142, 200)}, "lowest")
    assert clear.winner == "APGD" and clear.best == ("APGD",) and clear.order == ("APGD", "PGD", "FGSM")
    assert str(clear).startswith("lowest: APGD")
    top = compare.rank({"a": _results(40), "b": _results(39), "c": _results(20)}, "highest")
    assert top.best == ("a", "b") and "a and b (tied)" in str(top)
    assert top.against_leader["c"].higher == "a"


def test_the_rule_is_the_documented_one():
    assert compare.IMAGES == 2 and compare.STANDARD_ERRORS == 2.0
    assert "two images" in compare.__doc__ and "two standard errors" in compare.__doc__
