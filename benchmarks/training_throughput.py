"""Training throughput at 28x28 (Fashion-MNIST's recipe): the classifier and the purifier, MLF against ReLU.

    python benchmarks/training_throughput.py       # writes snnlab/results/training_throughput.json

The price of spiking on what the Fashion-MNIST defence really trains: each row times snnlab's own
training loop (``train_classifier`` and ``train_purifier``, the recipe's networks and settings, batch 64)
on the first ``--images`` training images, after a warm-up epoch of ``--warmup`` images that also pays
the fused kernels' compile, and reports images per second. Beside each, the same loop with ReLU in
place of every MLF neuron (``MLF.forward`` replaced by ``relu``, time still folded into the batch; for
the purifier that includes the frozen classifier its FGSM examples and KL term run through). Each row
runs in a fresh process, which reports its peak resident memory (``ru_maxrss``) and the resident memory
after imports and data, before training (so the training's own share is the difference). The purifier's
classifier has the recipe's layout with its initial weights: the dense work does not depend on them.

Run it alone: beside another job, 2 cores slow down tenfold.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace

import torch

from snnlab import results
from snnlab.runs.checkpoints import save_json

MODELS = ("classifier", "purifier")
NEURONS = ("mlf", "relu")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def one(model: str, neuron: str, images: int, warmup: int, threads: int) -> dict:
    """Time one training loop in this process: ``{images_per_s, seconds, peak_rss_mb, base_rss_mb}``."""
    torch.set_num_threads(threads)
    from snnlab import load_dataset
    from snnlab.models import neurons
    from snnlab.models.classifier import SpikingResNet
    from snnlab.training.recipes import recipe
    from snnlab.training.trainers import train_classifier, train_purifier

    if neuron == "relu":
        neurons.MLF.forward = lambda self, x: torch.relu(x)  # the same network, ReLU in every MLF's place
    plan = recipe("fashion-mnist")
    x, y = load_dataset("fashion-mnist", "train", limit=images + warmup)
    classifier = SpikingResNet(plan.network).eval()
    base = rss_mb()

    def train(data):
        if model == "classifier":
            train_classifier(settings=replace(plan.classifier, epochs=1), config=plan.network, data=data,
                             device="cpu", progress=False)
        else:
            train_purifier(classifier, settings=replace(plan.purifier, epochs=1), config=plan.purifier_network,
                           data=data, device="cpu", progress=False)

    train((x[:warmup], y[:warmup]))
    start = time.perf_counter()
    train((x[warmup:], y[warmup:]))
    seconds = time.perf_counter() - start
    return {"images_per_s": images / seconds, "seconds": seconds, "peak_rss_mb": rss_mb(), "base_rss_mb": base}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1280, help="timed training images per row (default 1280)")
    parser.add_argument("--warmup", type=int, default=128, help="warm-up images per row (default 128)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("training_throughput.json"))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "NEURON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.images, args.warmup, args.threads)))
        return
    start = time.perf_counter()
    rows = {}
    for model in MODELS:
        rows[model] = {}
        for neuron in NEURONS:
            out = subprocess.run([sys.executable, __file__, "--one", model, neuron, "--images", str(args.images),
                                  "--warmup", str(args.warmup), "--threads", str(args.threads)],
                                 check=True, capture_output=True, text=True).stdout
            rows[model][neuron] = {k: round(v, 2) for k, v in json.loads(out.splitlines()[-1]).items()}
            print(model, neuron, rows[model][neuron], flush=True)
        rows[model]["mlf_over_relu_time"] = round(rows[model]["relu"]["images_per_s"]
                                                  / rows[model]["mlf"]["images_per_s"], 3)
    from snnlab.models import neurons

    result = {"benchmark": "training throughput at 28x28 (Fashion-MNIST recipe), MLF against ReLU",
              "threads": args.threads, "batch": 64, "images": args.images, "warmup": args.warmup, **rows,
              "fused": neurons.fused_status(), "torch": torch.__version__,
              "wall_s": round(time.perf_counter() - start, 1),
              "command": " ".join(["python benchmarks/training_throughput.py", *sys.argv[1:]])}
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
