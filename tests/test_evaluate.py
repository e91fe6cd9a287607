import json

import pytest

from snnlab.evaluation.evaluate import evaluate, format_table

KEYS = {"dataset", "threat_model", "attack", "eps", "steps", "restarts", "n", "evaluated_on",
        "accuracy", "flagged", "correct_or_flagged", "auroc"}


@pytest.fixture(scope="module")
def small_eval(pretrained):
    defense, substitute = pretrained
    return evaluate(defense, "digits", attacks=("pgd",), eps=(0.2,),
                    threat_models=("undefended", "grey-box", "transfer"), substitute=substitute,
                    limit=64, progress=False)


def test_rows_are_complete_and_json_ready(small_eval):
    rows = small_eval.rows
    assert [(r["threat_model"], r["evaluated_on"]) for r in rows] == [
        ("clean", "classifier"), ("clean", "defense"), ("undefended", "classifier"),
        ("grey-box", "defense"), ("transfer", "defense")]
    for r in rows:
        assert set(r) == KEYS
        assert 0 <= r["accuracy"] <= 1 and r["n"] == 64
    json.loads(json.dumps(rows))
    grey = rows[3]
    assert grey["steps"] == 20 and grey["eps"] == 0.2
    assert grey["correct_or_flagged"] >= max(grey["accuracy"], grey["flagged"])


def test_defence_beats_undefended_under_grey_box(small_eval):
    rows = {r["threat_model"]: r for r in small_eval.rows[2:]}
    assert rows["undefended"]["accuracy"] < 0.2
    assert rows["grey-box"]["accuracy"] > rows["undefended"]["accuracy"] + 0.5


def test_table(small_eval):
    table = format_table(small_eval.rows)
    assert "grey-box" in table and "AUROC" in table


def test_bad_threat_models(pretrained):
    defense, _ = pretrained
    with pytest.raises(ValueError, match="substitute"):
        evaluate(defense, threat_models=("transfer",), progress=False, limit=4)
    with pytest.raises(ValueError, match="unknown threat model"):
        evaluate(defense, threat_models=("white-box-magic",), progress=False, limit=4)


def test_table_columns_line_up_with_long_attack_names():
    rows = [dict(threat_model="adaptive", attack=name, eps=0.1, steps=100, evaluated_on="defense", accuracy=0.5,
                 flagged=0.25, correct_or_flagged=0.75, auroc=0.9) for name in ("pgd", "pgd-detector-aware")]
    lines = format_table(rows).splitlines()
    assert len({len(line) for line in lines}) == 1  # header, rule and rows all as wide
    assert lines[2].index(" 0.1 ") == lines[3].index(" 0.1 ")


def test_unknown_adaptive_attack_is_named(pretrained):
    defense, _ = pretrained
    with pytest.raises(ValueError, match="autoattack"):
        evaluate(defense, threat_models=("adaptive",), adaptive=("pgd-magic",), progress=False, limit=4)
