"""Write book/results.md from the saved benchmark results (snnlab/results/*.json).

    python book/make_results.py

Every number on the page comes from those files, and the page names the
command that produced each.
"""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    """A saved result from the package (snnlab.results), or None if that benchmark was never saved."""
    from snnlab import results

    return results.load(name) if name in results.names() else None


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}"


def rows_table(rows):
    out = ["| threat model | attack | eps | steps | restarts | evaluated on | accuracy % | flagged % "
           "| correct or flagged % | AUROC |",
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
    from snnlab.course import viz, widgets

    parts = ["# Results: the digits defence under every threat model", "",
             "All figures below are read from `snnlab/results/*.json`, written by the commands named with them, "
             "on 2 CPU cores. Grey-box means the attacker knows the classifier but not the purifier or detector; "
             "it is not white-box robustness. The adaptive and ensemble rows attack the whole defence; the robust "
             "figure is the ensemble's per-image worst case.", ""]
    ens = load("ensemble.json")
    if ens:
        n = ens["rows"][0]["n"]

        def attacks_on(target):
            return len(next(r for r in ens["rows"] if r["evaluated_on"] == target)["ensemble"]["parts"])

        parts += [f"## The per-image worst case over the full attack ensemble (first {n} test images)", "",
                  f"Command: `{ens['command']}` ({ens['wall_s'] / 60:.1f} min). The `full` preset of "
                  f"`snnlab.attacks.ensemble` ({attacks_on('defense')} attacks on the defence, "
                  f"{attacks_on('classifier')} on the classifier: APGD-CE, APGD-DLR, APGD-T; APGD-CE through many "
                  "attack-time surrogates; BPDA; the detector penalty; orthogonal and selective PGD; Square), in "
                  "cascade, then confirmation rounds on the survivors (the strongest attacks with twice the steps, "
                  "2 restarts and a new seed) until a round breaks nothing (at most `--rounds`, in the command). "
                  "An image counts as robust only if every attack failed on it. White-box: the attacker knows "
                  "the classifier, the purifier, the detector and its threshold.", "",
                  "| eps | evaluated on | worst-case accuracy % | worst-case correct or flagged % | "
                  "grey-box PGD-20 accuracy % | grey-box correct or flagged % | broken by the confirmation rounds |",
                  "|---|---|---|---|---|---|---|"]
        bars = {}
        for r in ens["rows"]:
            w, rounds = r["worst_case"], r["confirmation_rounds"]
            grey = r.get("grey_box_pgd20", {"accuracy": r.get("pgd20_accuracy"), "correct_or_flagged": None})
            parts.append(f"| {r['eps']} | {r['evaluated_on']} | {pct(w['accuracy'])} | "
                         f"{pct(w['correct_or_flagged'])} | "
                         f"{pct(grey['accuracy'])} | {pct(grey['correct_or_flagged'])} | "
                         f"{sum(k['newly_broken'] for k in rounds)} in {len(rounds)} round(s)"
                         f"{'' if r['converged'] else ', not converged'} |")
            if r["evaluated_on"] == "defense":
                bars[f"grey-box PGD-20, eps {r['eps']}"] = grey["correct_or_flagged"]
                bars[f"ensemble worst case, eps {r['eps']}"] = w["correct_or_flagged"]
        parts.append("")
        parts += figure(viz.bar_chart(bars, "Joint defence: correct or flagged, grey-box vs white-box worst case", "%",
                                      percent=True), "ensemble-worst-case")
        for r in ens["rows"]:
            if r["evaluated_on"] == "defense":
                parts += [f"Attacks on the defence at eps {r['eps']}, in cascade (broke: images it broke that no "
                          "earlier attack had):", "",
                          "| attack | goal | ran on | broke (accuracy) | broke (correct or flagged) | s |",
                          "|---|---|---|---|---|---|"]
                parts += [f"| {p['label']} | {p['goal']} | {p['ran_on']} | {p['broke']} | {p['broke_cof']} | "
                          f"{p['seconds']} |"
                          for p in r["ensemble"]["parts"]]
                parts.append("")
    sweep = load("surrogate_sweep.json")
    if sweep:
        parts += [f"## The gradient is a choice (first {sweep['n']} test images)", "",
                  f"Command: `{sweep['command']}`. {sweep['attack']}-{sweep['steps']} at eps {sweep['eps']} through "
                  "each attack-time surrogate alone; the forward pass is the same in every run.", ""]
        parts += figure(widgets.surrogate_demo(sweep, "rect", 0.5), "surrogate-sweep")
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
                title=f"White-box attacks on the whole defence at eps={e:.3g} (first {n} test images)"),
                f"autoattack-{e}")
    eff = load("efficiency.json")
    if eff:
        parts += ["## Training cost: FGSM purification vs PGD-10 adversarial training", "",
                  f"Command: `{eff['command']}`", "",
                  "One epoch of each method timed alone in a fresh process (median of the runs; data loading, "
                  "model set-up and the first slow passes included, so it does not add up to the full runs "
                  "below, which pay that set-up once):", "",
                  "| method | seconds for one epoch alone | peak memory (MB) |", "|---|---|---|"]
        for name, t in eff["epoch_timing"].items():
            parts.append(f"| {name} | {t['epoch_s_median']} | {t['peak_rss_mb']} |")
        parts += ["", f"Route A ({eff['route_a']['what']}): {eff['route_a']['total_s']} s; "
                  f"route B ({eff['route_b']['what']}): {eff['route_b']['total_s']} s; "
                  f"ratio B/A {eff['time_ratio_b_over_a']}.", "",
                  f"Robust accuracy ({eff['robust_eval']}):", "",
                  "Grey-box: PGD-20 on the classifier (for route B, which has no defence, that is its own "
                  "classifier). White-box worst case: the full ensemble's per-image worst case (no confirmation "
                  "rounds).", "",
                  "| route | clean % | eps | grey-box % | white-box worst case % | white-box correct or flagged % |",
                  "|---|---|---|---|---|---|"]
        for key in ("route_a", "route_b"):
            r = eff[key]
            for e, v in r["robust"].items():
                parts.append(f"| {key[-1].upper()} | {pct(r['clean_accuracy'])} | {e} | "
                             f"{pct(v['grey_box_accuracy'])} | "
                             f"{pct(v['white_box_accuracy'])} | {pct(v.get('white_box_correct_or_flagged'))} |")
        parts.append("")
        parts += figure(viz.bar_chart({"A: classifier + purifier": eff["route_a"]["total_s"],
                                       "B: PGD-10 adversarial training": eff["route_b"]["total_s"]},
                                      "Training time of each route (s)", "seconds"), "efficiency-time")
    fam = load("purifiers.json")
    if fam:
        parts += [f"## The purifier family (first {fam['limit']} test images)", "",
                  f"Command: `{fam['command']}` ({fam['wall_s'] / 60:.1f} min). Each purifier of "
                  "`snnlab.purifiers` with the shipped classifier, in the joint defence (detector recalibrated at "
                  "1% false positives) and purifying every input. Grey-box: PGD-20 on the classifier. White-box: "
                  f"the per-image worst case over the grey-box examples and two APGD attacks (three on the joint "
                  "defence: plus the detector penalty) through the whole "
                  f"defence ({fam['steps']} steps, EOT {fam['eot']} for random purifiers); a lighter list than the "
                  "full ensemble above, for comparing purifiers with each other. Random defences: an image counts as "
                  f"robust only if it is right in every one of {fam['k']} evaluation draws (the per-image worst case "
                  "over draws); their clean accuracy is the mean over draws. Training seconds are copied from each "
                  "model's own training run: different runs, not comparable with each other.", "",
                  "| purifier | arrangement | clean % | " + " | ".join(
                      f"grey-box % (eps {e}) | white-box % (eps {e}) | white-box correct or flagged % (eps {e})"
                      for e in fam["eps"]) + " | training s | inference time (x classifier) |",
                  "|---|---|---|" + "---|---|---|" * len(fam["eps"]) + "---|---|"]
        for r in fam["rows"]:
            cells = []
            for e in map(str, fam["eps"]):
                w, g = r["white_box"][e], r["grey_box"][e]["accuracy"]
                cof = w.get("correct_or_flagged")
                cells += [pct(g["every_draw"]), pct(w["accuracy"]["every_draw"]),
                          pct(cof["every_draw"]) if cof else "-"]
            parts.append(f"| {r['purifier']} | {r['arrangement']} | {pct(r['clean']['accuracy']['mean'])} | "
                         + " | ".join(cells) + f" | {r['train_s']:.0f} | {r['inference_vs_classifier']:.1f} |")
        for b in fam.get("baselines", []):  # no purifier: the classifier trained on Gaussian noise
            cells = []
            for e in map(str, fam["eps"]):
                cells += [pct(b["grey_box"][e]["accuracy"]["every_draw"]),
                          pct(b["white_box"][e]["accuracy"]["every_draw"]), "-"]
            parts.append(f"| none | {b['model']} | {pct(b['clean']['accuracy']['mean'])} | " + " | ".join(cells)
                         + f" | {b['train_s']:.0f} | {b['inference_vs_classifier']:.1f} |")
        parts += ["", "Certified accuracy (randomized smoothing, Cohen et al.; L2 radius R; on 8x8 digits R = 0.8 "
                  "covers the L-inf ball of eps 0.1):", "",
                  "| sigma | model | draws n | "
                  + " | ".join(f"R = {r}" for r in fam["certified"][0]["certified_accuracy"])
                  + " | largest certifiable R |",
                  "|---|---|---|" + "---|" * len(fam["certified"][0]["certified_accuracy"]) + "---|"]
        for c in fam["certified"]:
            parts.append(f"| {c['sigma']} | {c['model']} | {c['n']} | " + " | ".join(
                pct(v) for v in c["certified_accuracy"].values()) + f" | {c['max_radius']:.2f} |")
        parts.append("")
        for sigma in sorted({c["sigma"] for c in fam["certified"]}):
            parts += figure(widgets.certified_demo(fam["certified"], sigma), f"certified-{sigma}")
    poison = load("poisoning.json")
    if poison:
        parts += ["## Poisoned data: DataElixir (lesson 8)", "",
                  f"Command: `{poison['command']}` ({poison['wall_s'] / 60:.1f} min). The digits train split "
                  "poisoned, the MLF spiking classifier trained on it (before), DataElixir run with the shipped "
                  "DDPM (trained on the clean split, except where the scenario says otherwise), and a new "
                  "classifier trained on the purified split (after); the test split measures clean accuracy and "
                  "the attack success rate (ASR). Identification: poisoned training images whose label changed "
                  "(TPR) and clean ones whose label changed (FPR), for the paper's rule (used) and the majority "
                  "variant.", "",
                  "| scenario | t* | clean before % | ASR before % | clean after % | ASR after % | targets found | "
                  "TPR % (paper's rule) | FPR % (paper's rule) | TPR % (majority) | FPR % (majority) | pipeline s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in poison["rows"]:
            a, m = r["any"]["identification"], r["majority"]["identification"]
            parts.append(f"| {r['scenario']} | {r['t_star']} | {pct(r['before']['clean_accuracy'])} | "
                         f"{pct(r['before']['attack_success_rate'])} | {pct(r['after']['clean_accuracy'])} | "
                         f"{pct(r['after']['attack_success_rate'])} | {r['detection']['targets']} | {pct(a['tpr'])} | "
                         f"{pct(a['fpr'])} | {pct(m['tpr'])} | {pct(m['fpr'])} | {r['seconds']['pipeline']:.0f} |")
        parts.append("")
        if poison.get("round_trip_curve"):
            t_stars = [c["t_star"] for c in poison["round_trip_curve"]]
            parts += figure(viz.precomputed_slider(lambda t: widgets.t_star_demo(poison["round_trip_curve"], int(t)),
                                                   t_stars, "t*", fmt="{:.0f}"), "poisoning-t-star")
    sweep = load("trigger_sweep.json")
    if sweep:
        t_stars = sorted({r["t_star"] for r in sweep["rows"]})
        parts += ["## DataElixir over trigger size and t* (lesson 8)", "",
                  f"Command: `{sweep['command']}` ({sweep['wall_s'] / 60:.1f} min, {sweep['threads']} thread(s)). "
                  f"A white BadNets corner patch of growing side, {100 * sweep['rate']:.0f}% poison, target "
                  f"{sweep['target']}, the DDPM {sweep['ddpm']}, the paper's rule; each cell is the attack success "
                  "rate after retraining on the purified split, the clean accuracy after in brackets, and "
                  "whether the target label was found.", "",
                  "| patch | ASR before % | " + " | ".join(f"t* = {t}" for t in t_stars) + " |",
                  "|---|---|" + "---|" * len(t_stars)]
        for size in sorted({r["size"] for r in sweep["rows"]}):
            rows = {r["t_star"]: r for r in sweep["rows"] if r["size"] == size}
            parts.append(f"| {size}x{size} | {pct(rows[t_stars[0]]['before']['attack_success_rate'])} | " + " | ".join(
                f"{pct(rows[t]['after']['attack_success_rate'])} ({pct(rows[t]['after']['clean_accuracy'])}; target "
                f"{'found' if rows[t]['target_found'] else 'not found'})" for t in t_stars) + " |")
        parts.append("")
        parts += figure(viz.value_grid({(r["size"], r["t_star"]): r["after"]["attack_success_rate"]
                                        for r in sweep["rows"]},
                                       "DataElixir: attack success rate after, patch side against t*",
                                       "patch side (pixels)", "t*"), "trigger-sweep")
    ab = load("ablation.json")
    if ab:
        parts += ["## Loss ablation", "", f"Command: `{ab['command']}`", "",
                  "| variant | threshold | clean defence % | " + " | ".join(
                      f"purified % (eps {e}) | defence % (eps {e})" for e in ab["rows"][0]["by_eps"]) + " |",
                  "|---|---|---|" + "---|---|" * len(ab["rows"][0]["by_eps"])]
        for r in ab["rows"]:
            parts.append(f"| {r['variant']} | {r['threshold']:.3f} | {pct(r['clean_defense_accuracy'])} | "
                         + " | ".join(f"{pct(v['purified_accuracy'])} | {pct(v['defense_accuracy'])}"
                                      for v in r["by_eps"].values()) + " |")
        parts.append("")
        for e in ab["rows"][0]["by_eps"]:
            parts += figure(viz.bar_chart({r["variant"]: r["by_eps"][e]["defense_accuracy"] for r in ab["rows"]},
                                          f"Loss ablation: joint-defence accuracy, grey-box PGD-20 at eps={e}", "%",
                                          percent=True), f"ablation-{e}")
    speed, throughput = load("neuron_speed.json"), load("training_throughput.json")
    if speed:
        node, apgd, report = speed["node"], speed["apgd_step"], speed.get("report")
        parts += ["## The price of spiking", "", f"Command: `{speed['command']}` ({speed['wall_s']:.0f} s, "
                  f"{speed['threads']} threads; every row's variants timed in turn, median of the rounds). "
                  "Eager: the MLF neuron as plain PyTorch operations; fused: its compiled kernels "
                  "(`torch.compile`), the default where a compiler is present.", "",
                  "| measurement | ReLU or snntorch.Leaky | MLF eager | MLF fused | target |", "|---|---|---|---|---|"]
        for size, row in speed["train_step"].items():
            target = f"<= {speed['targets']['train_step_28_over_relu']}x ReLU" if size == "28x28" else ""
            parts.append(f"| training step at {size} (batch {row['batch']}, T = {row['steps']}), ms | "
                         f"{row['relu_ms']:.1f} (ReLU) | {row['mlf_eager_ms']:.1f} ({row['eager_over_relu']:.2f}x) | "
                         f"{row['mlf_fused_ms']:.1f} ({row['fused_over_relu']:.2f}x) | {target} |")
        parts.append(f"| MLF node forward + backward (K = {node['levels']}), ms | {node['leaky_ms']:.2f} (Leaky) | "
                     f"{node['mlf_eager_ms']:.2f} ({node['eager_over_leaky']:.2f}x) | "
                     f"{node['mlf_fused_ms']:.2f} ({node['fused_over_leaky']:.2f}x) | "
                     f"<= {speed['targets']['node_over_leaky']}x Leaky |")
        parts.append(f"| APGD step on the joint digits defence, images/s | | "
                     f"{apgd['eager_weight_grads_images_per_s']:.0f} (weights taking gradients) | "
                     f"{apgd['fused_images_per_s']:.0f} (weights frozen; {apgd['speedup']:.2f}x) | "
                     f">= {speed['targets']['apgd_speedup']}x |")
        if report:
            parts.append(f"| `snnlab report` on digits, s | | {report['eager_s']:.1f} | {report['fused_s']:.1f} | "
                         f"<= {speed['targets']['report_s']} |")
        parts.append("")
    if throughput:
        parts += [f"Training at 28x28 on the Fashion-MNIST recipe (`{throughput['command']}`, batch "
                  f"{throughput['batch']}, {throughput['images']} images timed per row, each in a fresh process):", "",
                  "| network | MLF images/s | ReLU images/s | MLF time over ReLU | peak memory MLF / ReLU, MB |",
                  "|---|---|---|---|---|"]
        for name in ("classifier", "purifier"):
            row = throughput[name]
            parts.append(f"| {name} | {row['mlf']['images_per_s']:.1f} | {row['relu']['images_per_s']:.1f} | "
                         f"{row['mlf_over_relu_time']:.2f}x | {row['mlf']['peak_rss_mb']:.0f} / "
                         f"{row['relu']['peak_rss_mb']:.0f} |")
        parts.append("")
    discussion = os.path.join(HERE, "results_discussion.md")
    if os.path.exists(discussion):
        with open(discussion) as f:
            parts += [f.read()]
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    main()
