"""Write book/results.md from the saved benchmark results (benchmarks/results/*.json).

    python book/make_results.py

Every number on the page comes from those files, and the page names the
command that produced each.
"""
from __future__ import annotations

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, os.pardir, "benchmarks", "results")


def load(name):
    path = os.path.join(RESULTS, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}"


def rows_table(rows):
    out = ["| threat model | attack | eps | steps | restarts | evaluated on | accuracy % | flagged % | correct or flagged % | AUROC |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        au = "-" if r["auroc"] is None else f"{r['auroc']:.3f}"
        out.append(f"| {r['threat_model']} | {r['attack']} | {r['eps']:.3g} | {r['steps']} | {r['restarts']} | "
                   f"{r['evaluated_on']} | {pct(r['accuracy'])} | {pct(r['flagged'])} | "
                   f"{pct(r['correct_or_flagged'])} | {au} |")
    return "\n".join(out)


def figure(fig, div_id):
    """A plotly figure as raw HTML for the page; plotly.js itself is served from _static (book/_config.yml)."""
    html = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, default_height=420)
    return ["", "```{raw} html", html, "```", ""]


def main():
    from snnlab import viz, widgets

    parts = ["# Results: the digits defence under every threat model", "",
             "All figures below are read from `benchmarks/results/*.json`, written by the commands named with them, "
             "on 2 CPU cores. Grey-box means the attacker knows the classifier but not the purifier or detector; "
             "it is not white-box robustness. The adaptive rows attack the whole defence.", ""]
    ev = load("adaptive_evaluation.json")
    if ev:
        n = ev["rows"][0]["n"]
        parts += [f"## Every threat model (first {n} test images)", "", f"Command: `{ev['command']}`", "",
                  rows_table(ev["rows"]), ""]
        for e in sorted({r["eps"] for r in ev["rows"] if r["threat_model"] == "adaptive"}):
            parts += figure(widgets.threat_model_demo(ev["rows"], e), f"threat-models-{e}")
        check = ev["more_steps_check"]
        parts += [f"Sanity check (first {check['n']} images, eps {check['eps']}): end-to-end accuracy by PGD steps: "
                  + ", ".join(f"{s} steps {pct(a)}%" for s, a in check["accuracy_by_steps"].items()), ""]
    aa = load("autoattack.json")
    if aa:
        n = aa["rows"][0]["n"]
        parts += [f"## AutoAttack as a reference (first {n} test images)", "", f"Command: `{aa['command']}`", "",
                  "AutoAttack (torchattacks, standard version: APGD-CE, APGD-T, FAB-T, Square with 5000 queries; "
                  "gradient parts raised to the steps shown) against the undefended classifier and against the "
                  "whole defence, beside snnlab's end-to-end PGD on the same images. AutoAttack ignores the "
                  "detector, so its flagged images count as correct-or-flagged.", "",
                  rows_table(aa["rows"]), ""]
        for e in sorted({r["eps"] for r in aa["rows"] if r["attack"] == "autoattack"}):
            parts += figure(widgets.threat_model_demo(aa["rows"], e).update_layout(
                title=f"White-box attacks on the whole defence at eps={e:.3g} (first {n} test images)"), f"autoattack-{e}")
    eff = load("efficiency.json")
    if eff:
        parts += ["## Training cost: FGSM purification vs PGD-10 adversarial training", "",
                  f"Command: `{eff['command']}`", "",
                  "| method | median seconds per epoch | peak memory (MB) |", "|---|---|---|"]
        for name, t in eff["epoch_timing"].items():
            parts.append(f"| {name} | {t['epoch_s_median']} | {t['peak_rss_mb']} |")
        parts += ["", f"Route A ({eff['route_a']['what']}): {eff['route_a']['total_s']} s; "
                  f"route B ({eff['route_b']['what']}): {eff['route_b']['total_s']} s; "
                  f"ratio B/A {eff['time_ratio_b_over_a']}.", "",
                  f"Robust accuracy ({eff['robust_eval']}):", "",
                  "| route | clean % | eps | grey-box % | adaptive % |", "|---|---|---|---|---|"]
        for key in ("route_a", "route_b"):
            r = eff[key]
            for e, v in r["robust"].items():
                parts.append(f"| {key[-1].upper()} | {pct(r['clean_accuracy'])} | {e} | {pct(v['grey_box_accuracy'])} | "
                             f"{pct(v['adaptive_accuracy'])} |")
        parts.append("")
        parts += figure(viz.bar_chart({"A: classifier + purifier": eff["route_a"]["total_s"],
                                       "B: PGD-10 adversarial training": eff["route_b"]["total_s"]},
                                      "Training time of each route (s)", "seconds"), "efficiency-time")
    ab = load("ablation.json")
    if ab:
        parts += ["## Loss ablation", "", f"Command: `{ab['command']}`", "",
                  "| variant | threshold | clean defence % | " + " | ".join(
                      f"purified % (eps {e}) | defence % (eps {e})" for e in ab["rows"][0]["by_eps"]) + " |",
                  "|---|---|---|" + "---|---|" * len(ab["rows"][0]["by_eps"])]
        for r in ab["rows"]:
            parts.append(f"| {r['variant']} | {r['threshold']:.3f} | {pct(r['clean_defense_accuracy'])} | " + " | ".join(
                f"{pct(v['purified_accuracy'])} | {pct(v['defense_accuracy'])}" for v in r["by_eps"].values()) + " |")
        parts.append("")
        for e in ab["rows"][0]["by_eps"]:
            parts += figure(viz.bar_chart({r["variant"]: r["by_eps"][e]["defense_accuracy"] for r in ab["rows"]},
                                          f"Loss ablation: joint-defence accuracy, grey-box PGD-20 at eps={e}", "%",
                                          percent=True), f"ablation-{e}")
    discussion = os.path.join(HERE, "results_discussion.md")
    if os.path.exists(discussion):
        with open(discussion) as f:
            parts += [f.read()]
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    main()
