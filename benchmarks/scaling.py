"""Training throughput of the CIFAR-10-shaped classifier on 1 and 2 processes (DistributedDataParallel).

    python benchmarks/scaling.py      # writes snnlab/results/scaling.json (about 3 min on 2 CPU cores)

The full CIFAR-10 classifier (``ClassifierConfig.for_dataset('cifar10')``: ResNet-20-like widths 64/128/256,
T = 4) trained with :func:`snnlab.distributed.fit` on torchvision's FakeData (no download), global batch
``--batch``, for ``--images`` images after one warm-up epoch. On the CPU:

- 1 process, 1 thread; 1 process, ``--threads`` threads; ``--threads`` processes, 1 thread each (gloo);
- scaling efficiency: throughput of N processes / (N x throughput of 1 process with 1 thread).

On a CUDA machine the same run also measures one GPU, fp32 against bf16 autocast, with peak memory;
with no GPU those rows are absent and the JSON says so.
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
from snnlab.checkpoints import save_json


def _dataset(images: int):
    from snnlab.loaders import image_dataset

    return Subset(image_dataset("fake-cifar10", "train"), range(images))


def _train(images, batch, threads, device="cpu", bf16=False) -> float:
    """Seconds for one epoch of ``images`` after a warm-up epoch (this process, in its process group)."""
    from snnlab.classifier import ClassifierConfig
    from snnlab.distributed import fit
    from snnlab.train import ClassifierTraining

    torch.set_num_threads(threads)
    data, config = _dataset(images), ClassifierConfig.for_dataset("cifar10")
    settings = ClassifierTraining(epochs=1, batch_size=batch)
    fit(data, config, settings, None, device, progress=False, bf16=bf16)  # warm-up
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    start = time.perf_counter()
    fit(data, config, settings, None, device, progress=False, bf16=bf16)
    return time.perf_counter() - start


def _worker(rank, images, batch, out):
    seconds = _train(images, batch, 1)
    if rank == 0:
        with open(out, "w") as f:
            json.dump(seconds, f)


def _processes(world, images, batch) -> float:
    from snnlab.distributed import launch

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
    parser.add_argument("--out", default=results.path("scaling.json"))
    args = parser.parse_args()
    start_all = time.perf_counter()
    rows = []

    def add(label, processes, threads, seconds, **extra):
        rows.append({"setup": label, "processes": processes, "threads_per_process": threads,
                     "seconds": round(seconds, 2), "images_per_s": round(args.images / seconds, 1), **extra})
        print(json.dumps(rows[-1]), flush=True)

    add("cpu, 1 process, 1 thread", 1, 1, _train(args.images, args.batch, 1))
    add(f"cpu, 1 process, {args.threads} threads", 1, args.threads, _train(args.images, args.batch, args.threads))
    add(f"cpu, {args.threads} processes (gloo), 1 thread each", args.threads, 1,
        _processes(args.threads, args.images, args.batch))
    base = rows[0]["images_per_s"]
    rows[-1]["scaling_efficiency"] = round(rows[-1]["images_per_s"] / (args.threads * base), 3)
    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        for bf16 in (False, True):
            torch.cuda.reset_peak_memory_stats()
            seconds = _train(args.images, args.batch, 1, "cuda", bf16)
            add(f"{gpu}, {'bf16' if bf16 else 'fp32'}", 1, 1, seconds,
                peak_memory_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1))
    result = {"benchmark": "CIFAR-10-shaped classifier training throughput, FakeData", "rows": rows,
              "gpu": gpu or "none available in this run: GPU rows left to a run on a GPU machine",
              "cpu_count": os.cpu_count(), "images": args.images, "batch": args.batch,
              "wall_s": round(time.perf_counter() - start_all, 1), "torch": torch.__version__,
              "command": f"python benchmarks/scaling.py --images {args.images} --batch {args.batch} "
                         f"--threads {args.threads}"}
    save_json(args.out, result)
    print(f"written to {args.out} ({result['wall_s']} s)")


if __name__ == "__main__":
    main()
