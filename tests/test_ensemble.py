import pytest
import torch

from snnlab.attacks.apgd import APGD
from snnlab.attacks.ensemble import Ensemble, Member, light, preset
from snnlab.evaluation.evaluate import defend_batched, evaluate

N = 64


@pytest.fixture(scope="module")
def batch(digits_test):
    return digits_test[0][:N], digits_test[1][:N]


def _members(steps=10):
    return [Member("apgd-ce [model]", lambda t, e, s: APGD(t, eps=e, steps=steps, seed=s)),
            Member("apgd-ce [rect-0.5]", lambda t, e, s: APGD(t, eps=e, steps=steps, surrogate="rect-0.5", seed=s)),
            Member("apgd-dlr [sig-1]", lambda t, e, s: APGD(t, eps=e, steps=steps, loss="dlr", surrogate="sig-1",
                                                            seed=s))]


def test_standalone_runs_give_the_per_image_worst_case(pretrained, batch):
    classifier = pretrained[0].classifier
    x, y = batch
    result = Ensemble(classifier, 0.1, _members(), cascade=False).run(x, y)
    accs = [p["accuracy"] for p in result.parts]
    assert result.accuracy <= min(accs)
    # recompute the worst case from each attack's own output
    broken = torch.zeros(len(y), dtype=torch.bool)
    for member in _members():
        with torch.no_grad():
            broken |= classifier(member.make(classifier, 0.1, 0)(x, y)).argmax(1) != y
    with torch.no_grad():
        broken |= classifier(x).argmax(1) != y
    assert torch.equal(result.correct, ~broken)
    assert sum(p["unique"] for p in result.parts) <= int(broken.sum())
    with torch.no_grad():  # the kept example per image is a real adversarial example
        assert torch.equal(classifier(result.adversarial).argmax(1) == y, result.correct)
    assert (result.adversarial - x).abs().max() <= 0.1 + 1e-6


def test_cascade_books_add_up(pretrained, batch):
    defense, _ = pretrained
    x, y = batch
    result = Ensemble(defense, 0.1, light(steps=10)).run(x, y)
    logits, flags, _, _ = defend_batched(defense, x)
    correct = logits.argmax(1) == y
    assert result.parts[0]["ran_on"] == int(correct.sum())
    assert sum(p["broke"] for p in result.parts) == int(correct.sum()) - int(result.correct.sum())
    cof = correct | flags
    assert sum(p["broke_cof"] for p in result.parts) == int(cof.sum()) - int(result.correct_or_flagged.sum())
    out_logits, out_flags, _, _ = defend_batched(defense, result.adversarial)
    out_correct = out_logits.argmax(1) == y
    assert torch.equal(out_correct, result.correct)
    assert torch.equal(out_correct | out_flags, result.correct_or_flagged)
    assert "worst case over 4 attacks" in result.table()


def test_ensemble_is_at_least_as_strong_as_its_first_attack(pretrained, batch):
    classifier = pretrained[0].classifier
    x, y = batch
    first = APGD(classifier, eps=0.1, steps=10)(x, y)
    with torch.no_grad():
        alone = (classifier(first).argmax(1) == y).float().mean().item()
    assert Ensemble(classifier, 0.1, _members()).run(x, y).accuracy <= alone


def test_presets_and_bad_names(pretrained):
    classifier = pretrained[0].classifier
    assert len(Ensemble(classifier, 0.1, "light").members) == 2  # detector attacks need a defence
    assert len(Ensemble(pretrained[0], 0.1, "light").members) == 4
    assert len(preset("full")) == 34
    with pytest.raises(ValueError, match="unknown ensemble preset 'heavy'"):
        Ensemble(classifier, 0.1, "heavy")
    with pytest.raises(ValueError, match="goal"):
        Ensemble(classifier, 0.1, [Member("x", None, goal="win")])


def test_evaluate_reports_the_worst_case_beside_grey_box(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:48], digits_test[1][:48]
    ev = evaluate(defense, attacks=("pgd",), eps=(0.1,), threat_models=("undefended", "grey-box", "ensemble"),
                  data=(x, y), progress=False)
    tms = [(r["threat_model"], r["evaluated_on"]) for r in ev.rows]
    assert tms[2:] == [("undefended", "classifier"), ("ensemble", "classifier"), ("grey-box", "defense"),
                       ("ensemble", "defense")]
    rows = {(r["threat_model"], r["evaluated_on"]): r for r in ev.rows}
    worst, grey = rows[("ensemble", "defense")], rows[("grey-box", "defense")]
    assert worst["accuracy"] <= grey["accuracy"] and worst["correct_or_flagged"] <= grey["correct_or_flagged"]
    assert rows[("ensemble", "classifier")]["accuracy"] <= rows[("undefended", "classifier")]["accuracy"]
    assert worst["attack"] == "ensemble (light)" and len(worst["parts"]) == worst["attacks"] == 4


def test_absorbing_a_rerun_on_survivors_keeps_the_per_image_worst_case(pretrained, batch):
    defense, _ = pretrained
    x, y = batch
    first = Ensemble(defense, 0.1, light(steps=5)).run(x, y)
    survivors = first.correct_or_flagged.nonzero()[:, 0]
    again = Ensemble(defense, 0.1, light(steps=10), seed=1).run(x[survivors], y[survivors])
    correct, cof = first.correct.clone(), first.correct_or_flagged.clone()
    correct[survivors] &= again.correct
    cof[survivors] &= again.correct_or_flagged
    first.absorb(again, survivors)
    assert torch.equal(first.correct, correct) and torch.equal(first.correct_or_flagged, cof)
    out_logits, out_flags, _, _ = defend_batched(defense, first.adversarial)
    assert torch.equal(out_logits.argmax(1) == y, first.correct)
    assert torch.equal((out_logits.argmax(1) == y) | out_flags, first.correct_or_flagged)


@pytest.mark.parametrize("eps", [0.1, 0.2])
def test_dropping_broken_images_changes_no_result(pretrained, digits_test, eps):
    """APGD and orthogonal PGD stop computing an image once it is broken: the same examples, bit for bit."""
    from snnlab.attacks.apgd import APGD
    from snnlab.attacks.orthogonal import OrthogonalPGD

    defense, _ = pretrained
    x, y = digits_test[0][:96], digits_test[1][:96]
    for make in (lambda drop: APGD(defense, eps=eps, steps=12, surrogate="atan-0.5", drop_broken=drop),
                 lambda drop: APGD(defense, eps=eps, steps=12, detector_penalty=10.0, drop_broken=drop),
                 lambda drop: OrthogonalPGD(defense, eps=eps, steps=12, drop_broken=drop)):
        seen = []
        hook = defense.classifier.register_forward_hook(lambda m, i, o: seen.append(len(o)))
        try:
            dropped, work_dropped = make(True)(x, y), sum(seen)
            seen.clear()
            kept, work_kept = make(False)(x, y), sum(seen)
        finally:
            hook.remove()
        assert torch.equal(dropped, kept)
        assert not torch.equal(kept, x)
        assert work_dropped < work_kept  # images the classifier computed: the dropping did happen
