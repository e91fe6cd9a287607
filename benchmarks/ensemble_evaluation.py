"""The full attack ensemble on the shipped digits models: the per-image worst case (issue: attacks that know SNNs).

    python benchmarks/ensemble_evaluation.py     # writes snnlab/results/ensemble.json

On the first ``--limit`` test images and each eps, for each model of ``--models`` (default: the undefended
classifier and the joint defence; also ``noise-S``, the classifier trained on Gaussian noise of std S, and
``pgdK-E``, the classifier adversarially trained with PGD-K at radius E), from the shipped weights or a run
folder (``--folder``):

1. grey-box PGD-20 (crafted on the classifier; the seed paper's setting), for comparison, and transfer
   PGD-20 (crafted on the separately trained substitute CNN), evaluated on each model;
2. the ``full`` ensemble in cascade (:mod:`snnlab.attacks.ensemble`): APGD-CE/DLR/T, APGD-CE through
   eleven surrogates, BPDA, the detector penalty, orthogonal and selective PGD, Square. The robust
   figure is its per-image worst case;
3. confirmation rounds on the images that survived: the strongest attacks again with twice the
   steps, 2 restarts and a new seed, until a round breaks nothing (at most ``--rounds``). The
   robust figure ("worst_case") is the per-image worst case over the ensemble and every round;
   "converged" says whether the last round broke nothing.

Also, with ``--light-eps``, further radii attacked with the ``light`` preset in the same run (one JSON), and
with ``--sanity N``, the sanity checks of :mod:`snnlab.attacks.sanity` per (eps, model) on the first N images
(white-box at least as strong as FGSM, grey-box and transfer; more steps and restarts never help; accuracy 0 at
a large radius; uniform noise far weaker), each row saying whether they passed.

Target: under 20 minutes on 2 CPU cores with the defaults.

Resumable: the images are attacked in chunks of ``--chunk``; each finished chunk is saved at once in
``OUT.partial/progress.json`` (:class:`snnlab.runs.folders.Progress`), and the same command started again after a
kill resumes from the last finished chunk (another command is refused). The chunking is part of the
settings (each chunk is attacked as one batch), so a resumed run gives exactly the uninterrupted run's rows.
Each chunk keeps its own seconds, so ``wall_s`` is the whole run's attack time however many sessions it
spanned. The chunks are keyed by eps, model and first image, and ``--models`` is not part of the settings:
the same command with another model added reuses every chunk already attacked. ``--keep-progress`` keeps the
chunks after the JSON is written, for a model that is still training (a run that spans sessions commits them).
"""
from __future__ import annotations

import argparse
import json
import re
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks import AttackSpec, run_attack
from snnlab.attacks.apgd import APGD
from snnlab.attacks.ensemble import Ensemble, Member, full, light
from snnlab.attacks.orthogonal import OrthogonalPGD
from snnlab.evaluation.evaluate import defend_batched
from snnlab.runs.checkpoints import save_json
from snnlab.runs.folders import Progress


def confirmation(steps: int) -> list:
    """The attacks that broke most in the first runs, with ``steps`` steps and 2 restarts."""
    return [
        Member(f"apgd-ce x2 [{s or 'model'}]", lambda t, e, seed, s=s: APGD(t, eps=e, steps=steps, restarts=2,
                                                                           surrogate=s, seed=seed))
        for s in (None, "rect-0.5", "atan-0.5", "atan-0.25")
    ] + [
        Member(f"orthogonal-pgd x2 [{s or 'model'}]",
               lambda t, e, seed, s=s: OrthogonalPGD(t, eps=e, steps=steps, restarts=2, surrogate=s, seed=seed),
               goal="evade", defense_only=True)
        for s in (None, "rect-0.5", "atan-0.5")
    ]


def preset_of(eps, args) -> str:
    """The ensemble preset ``eps`` is attacked with: ``light`` for the radii of ``--light-eps``, else ``--preset``."""
    return "light" if eps in light_eps(args) else args.preset


def light_eps(args) -> list:
    return [float(e) for e in args.light_eps.split(",")] if args.light_eps else []


def attack_chunk(target, x, y, eps, args) -> dict:
    """The ensemble, then confirmation rounds, on one chunk of images: per-image results and the tallies."""
    preset = preset_of(eps, args)
    members = full(args.steps, args.square_queries) if preset == "full" else light(args.steps)
    result = Ensemble(target, eps, members, progress=not args.quiet, name=preset).run(x, y)
    if not args.quiet:
        print(result.table(), flush=True)
    first = {"correct": result.correct.tolist(),
             "correct_or_flagged": None if result.correct_or_flagged is None else result.correct_or_flagged.tolist(),
             "parts": result.parts, "seconds": result.seconds}
    rounds, converged = [], False
    for k in range(1, args.rounds + 1):
        survivors = (result.correct_or_flagged if result.correct_or_flagged is not None
                     else result.correct).nonzero()[:, 0]
        if len(survivors) == 0:
            converged = True
            break
        again = Ensemble(target, eps, confirmation(2 * args.steps), seed=k, progress=not args.quiet,
                         name=f"confirmation round {k}").run(x[survivors], y[survivors])
        if not args.quiet:
            print(again.table(), flush=True)
        newly = result.absorb(again, survivors)
        rounds.append({"round": k, "seed": k, "ran_on": len(survivors), "newly_broken": newly,
                       "steps": 2 * args.steps, "restarts": 2, "parts": again.parts, "seconds": again.seconds})
        if newly == 0:
            converged = True
            break
    return {"first": first, "rounds": rounds, "converged": converged, "correct": result.correct.tolist(),
            "correct_or_flagged": None if result.correct_or_flagged is None else result.correct_or_flagged.tolist(),
            "flagged": None if result.flagged is None else result.flagged.tolist()}


def _share(chunks, key, field=None):
    values = [v for c in chunks for v in ((c[key] if field is None else c[key][field]) or [])]
    return sum(values) / len(values) if values else None


def _summed(parts_lists) -> list:
    """Per-attack tallies summed over chunks (the attack list is the same in every chunk)."""
    total = [dict(p) for p in parts_lists[0]]
    for parts in parts_lists[1:]:
        for t, p in zip(total, parts):
            for k in ("ran_on", "broke", "broke_cof", "seconds"):
                if t.get(k) is not None:
                    t[k] = round(t[k] + p[k], 2) if k == "seconds" else t[k] + p[k]
    return total


def row_of(chunks, eps, name, args) -> dict:
    """One results row (the format of snnlab/results/ensemble.json) from the chunks of one (eps, model)."""
    rounds = []
    for k in range(1, 1 + max(len(c["rounds"]) for c in chunks)):
        these = [r for c in chunks for r in c["rounds"] if r["round"] == k]
        rounds.append({"round": k, "seed": k, "ran_on": sum(r["ran_on"] for r in these),
                       "newly_broken": sum(r["newly_broken"] for r in these), "steps": 2 * args.steps,
                       "restarts": 2, "parts": _summed([r["parts"] for r in these]),
                       "seconds": round(sum(r["seconds"] for r in these), 2)})
    row = {"eps": eps, "evaluated_on": name, "n": sum(len(c["correct"]) for c in chunks),
           "preset": preset_of(eps, args), "steps": args.steps, "chunk": args.chunk,
           "ensemble": {"accuracy": _share(chunks, "first", "correct"),
                        "correct_or_flagged": _share(chunks, "first", "correct_or_flagged"),
                        "parts": _summed([c["first"]["parts"] for c in chunks]),
                        "seconds": round(sum(c["first"]["seconds"] for c in chunks), 2)},
           "confirmation_rounds": rounds, "converged": all(c["converged"] for c in chunks),
           "worst_case": {"accuracy": _share(chunks, "correct"),
                          "correct_or_flagged": _share(chunks, "correct_or_flagged"),
                          "flagged": _share(chunks, "flagged")}}
    if name == "classifier":
        row["pgd20_accuracy"] = _share(chunks, "grey", "undefended")
    elif name == "defense":
        row["grey_box_pgd20"] = {"accuracy": _share(chunks, "grey", "correct"),
                                 "correct_or_flagged": _share(chunks, "grey", "correct_or_flagged")}
    if all("transfer" in c for c in chunks):
        row["transfer_pgd20"] = {"accuracy": _share(chunks, "transfer", "correct"),
                                 "correct_or_flagged": _share(chunks, "transfer", "correct_or_flagged")}
    row["seconds"] = round(sum(c.get("seconds", 0.0) for c in chunks), 1)
    return row


def load_targets(args):
    """``name -> model`` for each of ``--models``, and the defence and substitute the grey-box and transfer
    rows need, from the shipped weights or ``--folder``."""
    from snnlab.evaluation.smoothing import load_noise_classifier
    from snnlab.pretrained import load_adversarial_classifier, load_models

    if args.folder:
        defense, substitute = load_models(args.folder, with_substitute=True)
    else:
        defense, substitute = snnlab.load_pretrained(args.dataset, with_substitute=True)
    targets = {}
    for name in args.models.split(","):
        if name == "classifier":
            targets[name] = defense.classifier
        elif name == "defense":
            targets[name] = defense
        elif re.fullmatch(r"noise-[0-9.]+", name):
            targets[name] = load_noise_classifier(float(name[6:]), args.dataset, folder=args.folder)
        elif re.fullmatch(r"pgd[0-9]+-[0-9.]+", name):
            steps, eps = name[3:].split("-")
            targets[name] = load_adversarial_classifier(float(eps), args.dataset, int(steps), folder=args.folder)
        else:
            raise SystemExit(f"ensemble_evaluation.py: error: unknown model {name!r}; choose from classifier, "
                             "defense, noise-S (e.g. noise-0.25), pgdK-E (e.g. pgd10-0.1)")
    return defense, substitute, targets


SANITY_STEPS = 20  # APGD steps of the sanity checks (and twice that for "more steps never help")


def sanity_row(target, substitute, x, y, eps) -> dict:
    """The sanity checks (:mod:`snnlab.attacks.sanity`) on ``target`` at ``eps``: figures, checks, passed."""
    from snnlab.attacks.sanity import decide, measure

    began = time.perf_counter()
    figures = measure(target, x, y, eps=eps, steps=SANITY_STEPS, substitute=substitute)
    checks = decide(figures)
    return {"n": len(y), "steps": SANITY_STEPS, "figures": figures,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
            "passed": all(c.passed for c in checks), "seconds": round(time.perf_counter() - began, 1)}


def transfer_row(substitute, target, xs, ys, eps) -> dict:
    """PGD-20 crafted on the substitute CNN, evaluated on ``target``: correct (and correct or flagged)."""
    adv = run_attack(AttackSpec("pgd", eps, 20), substitute, xs, ys)
    if hasattr(target, "detector"):
        logits, flags, _, _ = defend_batched(target, adv)
        correct = logits.argmax(1) == ys
        return {"correct": correct.tolist(), "correct_or_flagged": (correct | flags).tolist()}
    with torch.no_grad():
        return {"correct": (target(adv).argmax(1) == ys).tolist(), "correct_or_flagged": None}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--light-eps", default="",
                        help="comma-separated radii attacked with the light preset in the same run (default: none)")
    parser.add_argument("--sanity", type=int, default=0,
                        help="the sanity checks per (eps, model) on the first N images (default 0: none)")
    parser.add_argument("--keep-progress", action="store_true",
                        help="keep OUT.partial after writing OUT, so a later run can add models")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=100, help="images attacked together and saved as one step")
    parser.add_argument("--preset", choices=["full", "light"], default="full")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--square-queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="at most this many confirmation rounds")
    parser.add_argument("--models", default="classifier,defense",
                        help="comma-separated: classifier, defense, noise-S, pgdK-E (default: classifier,defense)")
    parser.add_argument("--folder", default=None,
                        help="a run folder (snnlab train, train-noise, train-adversarial), not the shipped weights")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--out", default=None, help="default: snnlab/results/ensemble.json for digits, "
                        "ensemble_DATASET.json for another dataset")
    args = parser.parse_args()
    if args.out is None:
        args.out = results.path("ensemble.json" if args.dataset == "digits" else f"ensemble_{args.dataset}.json")
    eps_list = [float(e) for e in args.eps.split(",")]
    if set(light_eps(args)) & set(eps_list):
        parser.error("a radius is in both --eps and --light-eps; give it once")
    eps_list += light_eps(args)
    torch.set_num_threads(2)
    command = (f"python benchmarks/ensemble_evaluation.py --dataset {args.dataset} --eps {args.eps} --limit "
               f"{args.limit} --chunk {args.chunk} --preset {args.preset} --steps {args.steps} --square-queries "
               f"{args.square_queries} --rounds {args.rounds}"
               + (f" --models {args.models}" if args.models != "classifier,defense" else "")
               + (f" --folder {args.folder}" if args.folder else "")
               + (f" --light-eps {args.light_eps}" if args.light_eps else "")
               + (f" --sanity {args.sanity}" if args.sanity else ""))
    # the settings a resumed run must share; --models may grow (its chunks are keyed by model)
    request = {k: v for k, v in vars(args).items() if k not in ("out", "quiet", "models", "keep_progress")}
    for option, default in (("folder", None), ("light_eps", ""), ("sanity", 0)):  # as before these options
        if request[option] == default:
            del request[option]
    start = time.perf_counter()
    defense, substitute, targets = load_targets(args)
    names = list(targets)
    x, y = snnlab.load_dataset(args.dataset, "test", limit=args.limit)
    with Progress(args.out, request) as done:
        for eps in eps_list:
            for lo in range(0, len(y), args.chunk):
                xs, ys = x[lo:lo + args.chunk], y[lo:lo + args.chunk]
                grey = None
                for name, target in targets.items():
                    key = f"{eps}/{name}/{lo}"
                    if key in done:
                        continue
                    began = time.perf_counter()
                    if grey is None:  # grey-box PGD-20 on this chunk, crafted on the classifier
                        adv = run_attack(AttackSpec("pgd", eps, 20), defense.classifier, xs, ys)
                        logits, flags, _, _ = defend_batched(defense, adv)
                        with torch.no_grad():
                            undefended = defense.classifier(adv).argmax(1) == ys
                        correct = logits.argmax(1) == ys
                        grey = {"undefended": undefended.tolist(), "correct": correct.tolist(),
                                "correct_or_flagged": (correct | flags).tolist()}
                    row = {**attack_chunk(target, xs, ys, eps, args), "grey": grey}
                    if substitute is not None:
                        row["transfer"] = transfer_row(substitute, target, xs, ys, eps)
                    done[key] = {**row, "seconds": round(time.perf_counter() - began, 1)}
                    print(f"eps {eps}, {name}, images {lo}-{lo + len(ys) - 1}: done", flush=True)
            for name, target in targets.items():
                key = f"{eps}/{name}/sanity"
                if args.sanity and key not in done:
                    done[key] = sanity_row(target, substitute, x[:args.sanity], y[:args.sanity], eps)
                    print(f"eps {eps}, {name}: sanity checks passed: {done[key]['passed']}", flush=True)
        found = [row_of([done[f"{eps}/{name}/{lo}"] for lo in range(0, len(y), args.chunk)], eps, name, args)
                 for eps in eps_list for name in names]
        if args.sanity:
            for r in found:
                r["sanity"] = done[f"{r['eps']}/{r['evaluated_on']}/sanity"]
        out = {"rows": found, "wall_s": round(sum(r["seconds"] for r in found), 1),
               "this_process_s": round(time.perf_counter() - start, 1), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "command": command, "dataset": args.dataset,
               "note": "wall_s sums every chunk's attack time, over every session the run spanned"}
        save_json(args.out, out)
        if not args.keep_progress:
            done.finish()
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=2))
    for r in found:
        w = r["worst_case"]
        print(f"eps {r['eps']}: {r['evaluated_on']}: worst-case accuracy {100 * w['accuracy']:.1f}%"
              + (f", correct or flagged {100 * w['correct_or_flagged']:.1f}%"
                 if w["correct_or_flagged"] is not None else "")
              + f" ({len(r['confirmation_rounds'])} confirmation round(s), converged: {r['converged']}"
              + (f"; sanity checks passed: {r['sanity']['passed']}" if "sanity" in r else "") + ")")


if __name__ == "__main__":
    main()
