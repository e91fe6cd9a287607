"""MLF (3 levels, fused BPTT) vs snntorch.Leaky: forward + backward time on the same tensor and T.

    python benchmarks/neuron_speed.py            # writes snnlab/results/neuron_speed.json

Shape: the digits classifier's first block, T=4 steps of (N=256, C=32, 8, 8)
(batch 64 x T folded in the classifier, so N=256 here is 4 batches' worth).
Median of ``--repeats`` timings, each of ``--iters`` forward+backward passes.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import snntorch as snn
import torch

from snnlab import results

from snnlab.neurons import MLF
from snnlab.checkpoints import save_json


def leaky_forward(neuron, x):
    mem = neuron.init_leaky()
    out = []
    for t in range(x.shape[0]):
        spk, mem = neuron(x[t], mem)
        out.append(spk)
    return torch.stack(out)


def time_it(fn, iters, repeats):
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        runs.append((time.perf_counter() - start) / iters)
    return statistics.median(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--shape", default="256,32,8,8")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("neuron_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (args.steps, *map(int, args.shape.split(",")))
    x = (torch.rand(shape) * 3).requires_grad_()
    mlf = MLF()
    leaky = snn.Leaky(beta=0.25, threshold=0.6)  # same decay and first threshold as MLF's level 1

    def run_mlf():
        x.grad = None
        mlf(x).sum().backward()

    def run_leaky():
        x.grad = None
        leaky_forward(leaky, x).sum().backward()

    t_mlf = time_it(run_mlf, args.iters, args.repeats)
    t_leaky = time_it(run_leaky, args.iters, args.repeats)
    result = {
        "benchmark": "neuron forward+backward", "shape": list(shape), "threads": args.threads,
        "mlf_levels": mlf.levels, "mlf_ms": round(1e3 * t_mlf, 3), "leaky_ms": round(1e3 * t_leaky, 3),
        "ratio_mlf_over_leaky": round(t_mlf / t_leaky, 3), "target_ratio": 1.5,
        "torch": torch.__version__, "snntorch": snn.__version__, "machine": platform.processor() or platform.machine(),
        "command": "python benchmarks/neuron_speed.py",
    }
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
