"""Every purifier of the family in the same joint defence, under the same attacks; certified accuracy.

    python benchmarks/purifier_comparison.py      # writes snnlab/results/purifiers.json (about 15 min, 2 cores)

For each purifier (``snnlab.purifiers.NAMES``), the shipped classifier and the shipped purifier,
in two arrangements: the joint defence (the detector recalibrated for the purifier at 1% false
positives on the calibration split; unflagged images reach the classifier unpurified) and
"purify everything" (``classifier(purifier(x))``, how the other methods are meant to be used);
first ``--limit`` test images:

- clean accuracy and flagged share;
- grey-box: PGD-20 crafted on the classifier alone;
- white-box: the per-image worst case over the grey-box examples, APGD-CE, APGD-CE through the
  narrow arctan surrogate, and APGD-CE with the detector penalty (keeping wrong *and* unflagged
  examples; joint defence only), ``--steps`` steps each, through the whole defence, with ``--eot``
  gradient samples per step for a random purifier. Each attack runs on every image; per image the
  example right in the fewest of ``--k`` draws is chosen, then judged on ``--k`` fresh draws
  (:func:`snnlab.attacks.stochastic.worst_case`). This is a shorter list than the full ensemble of
  benchmarks/ensemble_evaluation.py: compare purifiers with each other here, and quote that
  benchmark for the SNN defence's figure;
- every figure of a random defence over ``--k`` evaluation draws: mean, spread, worst draw, and
  the share right in every draw;
- for the random purifiers: the EOT sweep (EOT 1/5/10/20, steps 20/100, ``--sweep-limit``
  images, eps 0.1) and the fixed-randomness test;
- the baseline a purifier has to beat: the classifier trained on Gaussian noise (Cohen et al.; the
  shipped ``noise-sigmaS.pt``, ``snnlab train-noise S``) alone, deterministic, under the
  same grey-box and white-box attacks;
- randomized smoothing (Cohen et al.): certified accuracy at L2 radii 0-1 for the classifier alone
  (noisy images clamped to [0, 1]), behind the consistency purifier (denoising at the smoothing
  sigma), and for the classifier trained on noise of that sigma, ``--n`` draws, n0 = 100,
  alpha = 0.001;
- training time (from the manifests) and inference time relative to the bare classifier (median of
  ``torch.utils.benchmark`` runs on the test images, the bare classifier timed right after each model).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
from torch.utils.benchmark import Timer

import snnlab
from snnlab import purifiers, results
from snnlab.attacks import AttackSpec, run_attack, stochastic
from snnlab.attacks.apgd import APGD
from snnlab.attacks.ensemble import NARROW, Member
from snnlab.evaluation import smoothing
from snnlab.pretrained import PRETRAINED_DIR
from snnlab.runs.checkpoints import save_json


def white_box_members(steps: int, eot: int) -> list:
    def apgd(label, defense_only=False, **options):
        return Member(label, lambda target, eps, seed: APGD(
            target, eps=eps, steps=steps, seed=seed, eot=eot if stochastic.is_random(target) else 1, **options),
            steps=steps, defense_only=defense_only)
    return [apgd("apgd-ce"), apgd(f"apgd-ce [{NARROW}]", surrogate=NARROW),
            apgd("apgd-ce + detector penalty", defense_only=True, detector_penalty=10.0)]


def train_seconds(name: str) -> float | None:
    if name == "snn":
        with open(os.path.join(PRETRAINED_DIR, "digits", "manifest.json")) as f:
            return json.load(f)["train_seconds"]["purifier_s"]
    with open(os.path.join(purifiers.shipped_dir("digits"), "manifest.json")) as f:
        return json.load(f)["runs"][name]["train_seconds"]


@torch.no_grad()
def relative_cost(model, classifier, images) -> float:
    """Inference time of ``model`` over that of ``classifier`` on ``images`` (medians of
    ``torch.utils.benchmark`` blocked runs, the classifier timed right after the model, so both see the same
    load)."""
    def median(m):
        return Timer("m(x)", globals={"m": m, "x": images}, num_threads=torch.get_num_threads()).blocked_autorange(
            min_run_time=1.0).median
    return median(model) / median(classifier)


def white_box_worst(target, images, labels, eps, grey, steps, eot, k):
    """The per-image worst case over the grey-box examples and the white-box members (minus the adversarial)."""
    candidates = {"pgd-20 on the classifier (grey-box)": grey}
    for member in white_box_members(steps, eot):
        if member.defense_only and not hasattr(target, "detector"):
            continue
        torch.manual_seed(0)
        candidates[member.label] = member.make(target, eps, 0)(images, labels)
    worst = stochastic.worst_case(target, candidates, labels, k, seed=1)
    worst.pop("adversarial")
    return worst


def report(row: dict, keys) -> None:
    """One progress line on stderr: ``keys`` of ``row``, then its clean, grey-box and white-box accuracy."""
    print(json.dumps({k: row[k] for k in keys}), f"clean {row['clean']['accuracy']['mean']:.3f}",
          " ".join(f"eps {e}: grey {row['grey_box'][e]['accuracy']['mean']:.3f} "
                   f"white {row['white_box'][e]['accuracy']['mean']:.3f}" for e in row["grey_box"]),
          file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--eot", type=int, default=10)
    parser.add_argument("--k", type=int, default=5, help="evaluation draws of a random defence")
    parser.add_argument("--sweep-limit", type=int, default=25)
    parser.add_argument("--sigmas", default="0.25,0.5")
    parser.add_argument("--n", type=int, default=1000, help="smoothing draws per image for CERTIFY")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("purifiers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    eps_values = [float(e) for e in args.eps.split(",")]
    start_all = time.perf_counter()
    shipped = snnlab.load_pretrained("digits")
    classifier = shipped.classifier
    images, labels = snnlab.load_dataset("digits", "test", limit=args.limit)
    rows = []
    for name, arrangement in [(n, a) for n in purifiers.NAMES for a in ("joint defence", "purify everything")]:
        t0 = time.perf_counter()
        purifier = shipped.purifier if name == "snn" else purifiers.load(name)
        if arrangement == "joint defence":
            defense = shipped if name == "snn" else purifiers.defense_with(shipped, purifier)
        else:
            defense = purifiers.PurifiedClassifier(purifier, classifier).eval()
        random = stochastic.is_random(defense)
        row = {"purifier": name, "arrangement": arrangement, "random": random,
               "threshold": getattr(getattr(defense, "detector", None), "threshold", None),
               "train_s": train_seconds(name), "inference_vs_classifier": relative_cost(defense, classifier, images),
               "clean": stochastic.draws(defense, images, labels, args.k), "grey_box": {}, "white_box": {}}
        for eps in eps_values:
            adv = run_attack(AttackSpec("pgd", eps, 20), classifier, images, labels)
            row["grey_box"][str(eps)] = stochastic.draws(defense, adv, labels, args.k)
            row["white_box"][str(eps)] = white_box_worst(defense, images, labels, eps, adv, args.steps, args.eot,
                                                         args.k)
        if random and arrangement == "purify everything":
            sweep_x, sweep_y = images[:args.sweep_limit], labels[:args.sweep_limit]
            row["eot_sweep"] = stochastic.eot_sweep(defense, sweep_x, sweep_y, 0.1, k=args.k)
            row["fixed_randomness"] = stochastic.fixed_randomness(defense, sweep_x, sweep_y, 0.1, k=args.k)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        report(row, ("purifier", "arrangement", "random", "threshold", "seconds"))
    sigmas = [float(s) for s in args.sigmas.split(",")]
    noise_trained = {sigma: smoothing.load_noise_classifier(sigma) for sigma in sigmas}
    baselines = []
    for sigma, model in noise_trained.items():
        t0 = time.perf_counter()
        row = {"model": f"classifier trained on noise, sigma {sigma:g}", "sigma": sigma,
               "train_s": smoothing.noise_run(sigma)["train_seconds"],
               "inference_vs_classifier": relative_cost(model, classifier, images),
               "clean": stochastic.draws(model, images, labels, 1), "grey_box": {}, "white_box": {}}
        for eps in eps_values:
            adv = run_attack(AttackSpec("pgd", eps, 20), classifier, images, labels)
            row["grey_box"][str(eps)] = stochastic.draws(model, adv, labels, 1)
            row["white_box"][str(eps)] = white_box_worst(model, images, labels, eps, adv, args.steps, 1, 1)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        baselines.append(row)
        report(row, ("model", "seconds"))
    consistency = purifiers.load("consistency")
    radii = [0.0, 0.25, 0.5, 0.75, 1.0]
    certified = []
    for sigma in sigmas:
        for label, base in (("classifier alone", lambda z: classifier(z.clamp(0, 1))),
                            ("consistency purifier + classifier",
                             lambda z, s=sigma: classifier(consistency.denoise(z, s))),
                            ("classifier trained on noise (Cohen et al.)",
                             lambda z, s=sigma: noise_trained[s](z.clamp(0, 1)))):
            t0 = time.perf_counter()
            cert = smoothing.certify_dataset(base, images, labels, sigma, n0=100, n=args.n, alpha=0.001)
            certified.append({"sigma": sigma, "model": label, "n": args.n, "n0": 100, "alpha": 0.001,
                              "certified_accuracy": {str(r): a for r, a in
                                                     smoothing.certified_accuracy(cert, radii).items()},
                              "max_radius": smoothing.max_radius(sigma, args.n, 0.001),
                              "abstained": sum(c["prediction"] == smoothing.ABSTAIN for c in cert) / len(cert),
                              "radii": [c["radius"] if c["correct"] else 0.0 for c in cert],
                              "seconds": round(time.perf_counter() - t0, 1)})
            print(json.dumps({k: certified[-1][k] for k in ("sigma", "model", "certified_accuracy", "seconds")}),
                  file=sys.stderr, flush=True)
    result = {"benchmark": "purifier family in the joint defence; randomized smoothing", "rows": rows,
              "baselines": baselines, "certified": certified, "limit": args.limit, "eps": eps_values,
              "steps": args.steps, "eot": args.eot, "k": args.k,
              "wall_s": round(time.perf_counter() - start_all, 1), "threads": args.threads,
              "torch": torch.__version__,
              "command": "python benchmarks/purifier_comparison.py" + "".join(
                  f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "threads"))}
    save_json(args.out, result)
    print(f"written to {args.out} ({result['wall_s']} s)")


if __name__ == "__main__":
    main()
