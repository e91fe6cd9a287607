"""``snnlab evaluate``: attack the defence under each threat model and print (or write) the metrics rows."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time

from .. import purifiers
from ..attacks import eps_grid
from ..evaluation.evaluate import evaluate, evaluate_in_chunks, finish_chunks, format_table
from ..pretrained import PRETRAINED_DIR, load_models, load_pretrained
from ..runs.checkpoints import save_json
from .options import attack_options, common, positive


def register(sub):
    e = sub.add_parser("evaluate", help="attack the defence and print/write the metrics rows",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Attack the defence (default: the shipped models) under each threat model and "
                       "print the metrics rows (see `snnlab --help` for the threat models).",
                       epilog="examples:\n  snnlab evaluate --json rows.json --attacks pgd --eps 0.1,0.2\n"
                       "  snnlab evaluate --threat-models ensemble --ensemble full --eps 0.1 --limit 200 --chunk 50 "
                       "--json full.json\n  snnlab evaluate --purifier consistency --threat-models grey-box --eps 0.1")
    common(e)
    attack_options(e)
    e.add_argument("--chunk", type=positive, default=None,
                   help="attack the test images N at a time (default: all at once); with --json every finished "
                   "chunk is saved in JSON.partial, and the same command started again resumes from the last one")
    e.set_defaults(run=run)
    return e


def load(args):
    """The defence (with another purifier where --purifier says) and the transfer substitute, or None."""
    if args.models:  # a folder from `snnlab train --stream` has no substitute: only the transfer attack needs it
        wanted = "transfer" in getattr(args, "threat_models", ("transfer",))
        defense, substitute = (load_models(args.models, args.device, True, args.dataset) if wanted
                               else (load_models(args.models, args.device, dataset=args.dataset), None))
    else:
        defense, substitute = load_pretrained(args.dataset, args.device, with_substitute=True)
    if getattr(args, "purifier", "snn") != "snn":
        purifier = purifiers.load(args.purifier, args.dataset, args.device, folder=args.models)
        defense = purifiers.defense_with(defense, purifier, args.dataset)
    return defense, substitute


def models_sha256(args) -> dict:
    """The evaluated models by content: the SHA-256 of the file hashes their manifests list (the defence's,
    and the purifier's entry when --purifier swaps it in), so a rerun that rewrites a manifest's command or
    times, or trains another purifier beside, changes nothing here."""
    folder = args.models or os.path.join(PRETRAINED_DIR, args.dataset)
    listed = {}
    for name, keep in [("manifest.json", None)] + ([(os.path.join("purifiers", "manifest.json"), f"{args.purifier}.pt")]
                                                  if getattr(args, "purifier", "snn") != "snn" else []):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path) as f:
                files = json.load(f).get("sha256", {})
            listed[name] = {k: v for k, v in files.items() if keep is None or k == keep}
    return {name: hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
            for name, files in listed.items()}


def options(args, substitute) -> dict:
    if args.eps is None:
        args.eps = eps_grid(args.dataset)
    square_eps = args.square_eps or sorted(args.eps)[-2:-1] or sorted(args.eps)[-1:]
    return dict(attacks=args.attacks, eps=args.eps, threat_models=args.threat_models, substitute=substitute,
                square_eps=square_eps, square_queries=args.square_queries, adaptive=args.adaptive,
                adaptive_steps=args.adaptive_steps, adaptive_restarts=args.adaptive_restarts,
                ensemble=args.ensemble, seed=args.seed)


def run(args, command: str, argv: list) -> int:
    start = time.perf_counter()
    defense, substitute = load(args)
    chosen = options(args, substitute)
    if args.json or args.chunk:  # in chunks; with --json, resumable
        request = {k: v for k, v in chosen.items() if k != "substitute"}
        request.update(models=args.models or "pretrained", purifier=args.purifier, limit=args.limit,
                       inputs=models_sha256(args))
        rows = evaluate_in_chunks(defense, args.dataset, args.chunk, args.json, request, limit=args.limit,
                                  progress=not args.quiet, **chosen)
    else:
        rows = evaluate(defense, args.dataset, limit=args.limit, progress=not args.quiet, **chosen).rows
    print(format_table(rows))
    print(f"(threshold {defense.threshold:.4f}; {time.perf_counter() - start:.1f} s)")
    if args.json:
        save_json(args.json, rows)
        finish_chunks(args.json)
        print(f"rows written to {args.json}")
    return 0
