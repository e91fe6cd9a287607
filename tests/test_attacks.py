import pytest
import torch

from snnlab.attacks import AttackSpec, eps_grid, run_attack
from snnlab.training.trainers import train_substitute


def test_eps_grid():
    assert eps_grid("digits") == (0.05, 0.1, 0.2, 0.3)
    with pytest.raises(ValueError, match="unknown dataset"):
        eps_grid("nope")


def test_unknown_attack():
    with pytest.raises(ValueError, match="unknown attack"):
        AttackSpec("deepfool", 0.1).build(torch.nn.Identity())


@pytest.mark.parametrize("name", ["fgsm", "pgd"])
def test_linf_attacks_stay_in_the_ball_and_in_range(pretrained, digits_test, name):
    defense, _ = pretrained
    x, y = digits_test[0][:32], digits_test[1][:32]
    adv = run_attack(AttackSpec(name, 0.1, 5), defense.classifier, x, y)
    assert (adv - x).abs().max() <= 0.1 + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1


def test_pgd_drives_the_undefended_classifier_to_near_zero(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:100], digits_test[1][:100]
    adv = run_attack(AttackSpec("pgd", 0.3, 20), defense.classifier, x, y)
    with torch.no_grad():
        acc = (defense.classifier(adv).argmax(1) == y).float().mean().item()
    assert acc <= 0.05


def test_pgd_is_seeded(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:16], digits_test[1][:16]
    spec = AttackSpec("pgd", 0.1, 3)
    assert torch.equal(run_attack(spec, defense.classifier, x, y, seed=1),
                       run_attack(spec, defense.classifier, x, y, seed=1))


def test_restarts_never_weaken_the_attack(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:64], digits_test[1][:64]
    one = run_attack(AttackSpec("pgd", 0.1, 5, restarts=1), defense.classifier, x, y)
    three = run_attack(AttackSpec("pgd", 0.1, 5, restarts=3), defense.classifier, x, y)
    with torch.no_grad():
        acc1 = (defense.classifier(one).argmax(1) == y).float().mean()
        acc3 = (defense.classifier(three).argmax(1) == y).float().mean()
    assert acc3 <= acc1


def test_bad_labels(pretrained, digits_test):
    defense, _ = pretrained
    with pytest.raises(ValueError, match="labels"):
        run_attack(AttackSpec("fgsm", 0.1), defense.classifier, digits_test[0][:4], digits_test[1][:3])


def test_substitute_learns(digits_test):
    from snnlab import load_dataset

    x, y = load_dataset("digits", "train")
    model = train_substitute(x, y, 10)  # the default 30 epochs, as snnlab train uses
    with torch.no_grad():
        acc = (model(digits_test[0]).argmax(1) == digits_test[1]).float().mean()
    assert acc > 0.9


def test_autoattack_runs_every_gradient_part_for_the_requested_steps():
    import torchattacks

    attack = AttackSpec("autoattack", 0.1, 100).build(torch.nn.Linear(64, 10))
    parts = attack._autoattack.attacks
    assert [type(p).__name__ for p in parts] == ["APGD", "APGDT", "FAB", "Square"]
    assert [p.steps for p in parts if not isinstance(p, torchattacks.Square)] == [100, 100, 100]
    assert parts[-1].n_queries == 5000  # the standard version's Square budget is kept


def test_autoattack_breaks_the_undefended_classifier_within_the_ball(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:16], digits_test[1][:16]
    adv = run_attack(AttackSpec("autoattack", 0.3, 10), defense.classifier, x, y)
    assert (adv - x).abs().max() <= 0.3 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        assert (defense.classifier(adv).argmax(1) == y).float().mean().item() <= 0.05


def test_attacks_freeze_the_weights_and_craft_the_same_images(pretrained, digits_test, monkeypatch):
    """Attacks take the input's gradient alone (core.frozen): the images are bit-identical to those crafted with
    the weights taking gradients too, no weight gradient is left behind, and every parameter is trainable again."""
    import contextlib

    from snnlab.attacks import apgd, threat_models
    from snnlab.attacks.core import frozen

    defense, _ = pretrained
    x, y = digits_test[0][:16], digits_test[1][:16]

    def attack():
        return (apgd.APGD(defense, eps=0.1, steps=3, seed=0)(x, y),
                run_attack(AttackSpec("pgd", 0.1, 3), defense.classifier, x, y))

    seen = []
    hook = defense.classifier.register_forward_pre_hook(
        lambda module, args: seen.append(any(p.requires_grad for p in module.parameters())))
    try:
        fast = attack()
    finally:
        hook.remove()
    assert seen and not any(seen)  # frozen during every forward pass of both attacks
    assert all(p.requires_grad and p.grad is None for p in defense.parameters())
    for module in (apgd, threat_models):  # as before: the weights' gradient computed too
        monkeypatch.setattr(module, "frozen", contextlib.nullcontext)
    slow = attack()
    assert all(torch.equal(a, b) for a, b in zip(fast, slow))
    with frozen(defense):
        with frozen(defense):  # nested: the inner block finds nothing to freeze and restores nothing
            pass
        assert not any(p.requires_grad for p in defense.parameters())
    assert all(p.requires_grad for p in defense.parameters())
