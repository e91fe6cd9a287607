import pytest

from snnlab.attacks.sanity import decide, sanity_checks


@pytest.mark.parametrize("on", ["classifier", "defense"])
def test_sanity_checks_hold(pretrained, digits_test, on):
    defense, substitute = pretrained
    target = defense.classifier if on == "classifier" else defense
    x, y = digits_test[0][:48], digits_test[1][:48]
    checks = sanity_checks(target, x, y, eps=0.1, large_eps=0.5, steps=10, substitute=substitute)
    assert len(checks) == (7 if on == "defense" else 6)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, failed


GOOD = dict(clean=0.99, fgsm=0.6, pgd=0.4, pgd_more_steps=0.38, pgd_restarts=0.37, pgd_large_eps=0.0, noise=0.97,
            grey_box=0.9)


@pytest.mark.parametrize("broken,check", [
    (dict(pgd=0.7), "iterative at least as strong as single-step"),  # a PGD figure above FGSM's
    (dict(pgd_more_steps=0.45), "more steps never help the defence"),
    (dict(pgd_restarts=0.41), "restarts never help the defence"),
    (dict(pgd_large_eps=0.3), "accuracy reaches 0 at a large radius"),
    (dict(noise=0.6), "uniform noise far weaker than the attack"),
    (dict(grey_box=0.3), "white-box at least as strong as grey-box"),
])
def test_decide_fails_a_broken_evaluation(broken, check):
    assert all(c.passed for c in decide(GOOD))
    failed = [c.name for c in decide({**GOOD, **broken}) if not c.passed]
    assert failed == [check]
