"""Training throughput of the CIFAR-10-shaped classifier on 1 and 2 processes (DistributedDataParallel),
of the purifier, and of PGD-20; on a GPU also fp32 against bf16 with peak memory.

    python benchmarks/scaling.py      # writes snnlab/results/scaling.json (about 5 min on 2 CPU cores)

The full CIFAR-10 classifier (``ClassifierConfig.for_dataset('cifar10')``: ResNet-20-like widths 64/128/256,
T = 4) trained with :func:`snnlab.training.distributed.fit` on torchvision's FakeData (no download), global batch
``--batch``, for ``--images`` images after one warm-up epoch. On the CPU:

- 1 process, 1 thread; 1 process, ``--threads`` threads; ``--threads`` processes, 1 thread each (gloo);
- scaling efficiency: throughput of N processes / (N x throughput of 1 process with 1 thread).

Then, on one process: the purifier's training (:func:`snnlab.training.distributed.fit_purifier`, FGSM against the
classifier included) and PGD-20 (torchattacks, eps 8/255) against the classifier, in images/s. Each
throughput gives the time per epoch of the recipes in :mod:`snnlab.training.recipes` on this machine
(train images / images/s).

On a CUDA machine the same run also measures one GPU: classifier and purifier training, fp32 against bf16
autocast, with peak memory, and PGD-20; with no GPU those rows are absent and the JSON says so.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch
from torch.utils.data import Subset

from snnlab import results
from snnlab.runs.checkpoints import save_json


def _dataset(images: int):
    from snnlab.data.loaders import image_dataset

    return Subset(image_dataset("fake-cifar10", "train"), range(images))


def _train(images, batch, threads, device="cpu", bf16=False, model="classifier") -> float:
    """Seconds for one epoch of ``images`` after a warm-up epoch (this process, in its process group)."""
    from snnlab.models.classifier import SpikingResNet
    from snnlab.training.distributed import fit, fit_purifier
    from snnlab.training.recipes import recipe

    torch.set_num_threads(threads)
    data, plan = _dataset(images), recipe("cifar10")
    settings = plan.classifier if model == "classifier" else plan.purifier
    settings.epochs, settings.batch_size = 1, batch

    def run():
        if model == "classifier":
            return fit(data, plan.network, settings, None, device, progress=False, bf16=bf16)
        classifier = SpikingResNet(plan.network).eval()  # untrained: the cost is the same
        return fit_purifier(data, classifier, plan.purifier_network, settings, None, device, progress=False, bf16=bf16)

    run()  # warm-up
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    if device != "cpu":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _pgd(images, threads, device="cpu") -> float:
    """Seconds for PGD-20 (eps 8/255, step 2/255) on ``images`` CIFAR-shaped images against the classifier, after a
    warm-up batch."""
    import torchattacks

    from snnlab.models.classifier import SpikingResNet
    from snnlab.training.recipes import recipe

    torch.set_num_threads(threads)
    model = SpikingResNet(recipe("cifar10").network).to(device).eval()
    x = torch.rand(images, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (images,), device=device)
    attack = torchattacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=20)
    attack(x[:2], y[:2])
    if device != "cpu":
        torch.cuda.synchronize()
    start = time.perf_counter()
    attack(x, y)
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _worker(rank, images, batch, out):
    seconds = _train(images, batch, 1)
    if rank == 0:
        with open(out, "w") as f:
            json.dump(seconds, f)


def _processes(world, images, batch) -> float:
    from snnlab.training.distributed import launch

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "seconds.json")
        launch(_worker, world, images, batch, out)
        with open(out) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--purifier-images", type=int, default=64)
    parser.add_argument("--pgd-images", type=int, default=16)
    parser.add_argument("--gpu-images", type=int, default=2048)
    parser.add_argument("--out", default=results.path("scaling.json"))
    args = parser.parse_args()
    start_all = time.perf_counter()
    rows = []

    def add(label, processes, threads, seconds, images=None, model="classifier", **extra):
        images = images or args.images
        rows.append({"setup": label, "model": model, "processes": processes, "threads_per_process": threads,
                     "images": images,
                     "seconds": round(seconds, 2), "images_per_s": round(images / seconds, 1), **extra})
        print(json.dumps(rows[-1]), flush=True)

    add("cpu, 1 process, 1 thread", 1, 1, _train(args.images, args.batch, 1))
    add(f"cpu, 1 process, {args.threads} threads", 1, args.threads, _train(args.images, args.batch, args.threads))
    add(f"cpu, {args.threads} processes (gloo), 1 thread each", args.threads, 1,
        _processes(args.threads, args.images, args.batch))
    base = rows[0]["images_per_s"]
    rows[-1]["scaling_efficiency"] = round(rows[-1]["images_per_s"] / (args.threads * base), 3)
    add(f"cpu, purifier, 1 process, {args.threads} threads", 1, args.threads,
        _train(args.purifier_images, args.batch, args.threads, model="purifier"), images=args.purifier_images,
        model="purifier")
    add(f"cpu, PGD-20, 1 process, {args.threads} threads", 1, args.threads, _pgd(args.pgd_images, args.threads),
        images=args.pgd_images, model="PGD-20 attack")
    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        for model in ("classifier", "purifier"):
            for bf16 in (False, True):
                torch.cuda.reset_peak_memory_stats()
                seconds = _train(args.gpu_images, args.batch, 1, "cuda", bf16, model)
                add(f"{gpu}, {model}, {'bf16' if bf16 else 'fp32'}", 1, 1, seconds, images=args.gpu_images,
                    model=model, peak_memory_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1))
        torch.cuda.reset_peak_memory_stats()
        add(f"{gpu}, PGD-20", 1, 1, _pgd(args.gpu_images, 1, "cuda"), images=args.gpu_images, model="PGD-20 attack",
            peak_memory_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1))
    epochs = []  # the recipes' time per epoch at each measured training throughput
    from snnlab.training.recipes import RECIPES

    for row in rows:
        if row["model"] != "PGD-20 attack":
            for name, plan in RECIPES.items():
                if plan.network.image_size == 32:  # the throughput is CIFAR-shaped
                    epochs.append({"recipe": name, "setup": row["setup"], "model": row["model"],
                                   "train_images": plan.train_images,
                                   "hours_per_epoch": round(plan.train_images / row["images_per_s"] / 3600, 2)})
    result = {"benchmark": "CIFAR-10-shaped training and attack throughput, FakeData", "rows": rows,
              "epoch_time": epochs,
              "gpu": gpu or "none available in this run: GPU rows left to a run on a GPU machine",
              "cpu_count": os.cpu_count(), "images": args.images, "batch": args.batch,
              "wall_s": round(time.perf_counter() - start_all, 1), "torch": torch.__version__,
              "command": f"python benchmarks/scaling.py --images {args.images} --batch {args.batch} "
                         f"--threads {args.threads} --purifier-images {args.purifier_images} "
                         f"--pgd-images {args.pgd_images}"}
    save_json(args.out, result)
    print(f"written to {args.out} ({result['wall_s']} s)")


if __name__ == "__main__":
    main()
