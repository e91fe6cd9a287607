"""The price of spiking: MLF (eager and fused) against ReLU and snntorch.Leaky, in one run.

    python benchmarks/neuron_speed.py                 # writes snnlab/results/neuron_speed.json
    python benchmarks/neuron_speed.py --no-report     # without the main job's wall time (saves ~6 min)

Rows (2 threads; median of ``--repeats`` timings of ``--iters`` calls each, after a warm-up that
also pays any compile; the variants of a row timed in turn, round by round, so a drift in the machine's
speed falls on all of them alike):

- ``node``: MLF alone (K = 3 levels) against ``snntorch.Leaky`` (one level), forward + backward on
  the same ``(T, N, C, H, W)`` tensor, the digits classifier's first block (T=4, 256, 32, 8, 8).
- ``train_step``: forward + backward + SGD on a batch of 64 at T = 4 of the MLF-SE classifier, at
  8x8 (the digits layout, 32/32/64) and 28x28 (a lean 32/64/128 layout, one block per stage), beside
  the same network with ReLU in place of every MLF neuron (still folding T into the batch), and at
  28x28 in channels-last memory format too (the measurement that decided against it or for it).
- ``apgd_step``: one APGD-CE step (forward + backward through purifier, detector and classifier)
  through the shipped joint digits defence, 64 images, images per second: before (eager MLF, the
  weights taking gradients as well as the input), each change alone, and now (fused MLF, the weights
  frozen while attacked, ``snnlab.attacks.core.frozen``); ``speedup`` is now over before. Every image
  takes every step here (``drop_broken=False``), so the rows time a step, not how soon images break.
- ``report``: the wall time of ``snnlab report`` (the main job) in a fresh process, eager and fused MLF
  (both with the attacks' frozen weights, and APGD and orthogonal PGD dropping the images they broke).

Every MLF row is measured with the eager implementation and the fused one (``SNNLAB_MLF``), so the
before/after ratios come from one run on one machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import snntorch as snn
import torch
from torch import nn

from snnlab import results
from snnlab.models import neurons
from snnlab.models.classifier import ClassifierConfig, SpikingResNet
from snnlab.models.neurons import MLF
from snnlab.runs.checkpoints import save_json

TARGETS = {"train_step_28_over_relu": 1.3, "node_over_leaky": 0.7, "apgd_speedup": 1.5, "report_s": 150}


def time_interleaved(fns: dict, iters: int, repeats: int) -> dict:
    """``name -> median seconds per call`` for each of ``fns``, timed in turn: one timing of each, then again.

    Each is warmed up twice first (which also pays any compile). Timing every variant in each round, rather
    than all of one variant's repeats and then the next's, keeps a drift in the machine's speed (another
    process, the clock) out of the ratios: on the 2-core machine this benchmark runs on, a block of repeats
    measured after another could be 20% slower for that alone, which once read as the attacks' weight
    freezing costing time (measured interleaved, frozen and unfrozen tie within this machine's noise)."""
    for fn in fns.values():
        fn()
        fn()
    runs = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(iters):
                fn()
            runs[name].append((time.perf_counter() - start) / iters)
    return {name: statistics.median(r) for name, r in runs.items()}


def leaky_forward(neuron, x):
    mem = neuron.init_leaky()
    out = []
    for t in range(x.shape[0]):
        spk, mem = neuron(x[t], mem)
        out.append(spk)
    return torch.stack(out)


class ReLUNeuron(nn.Module):
    """ReLU in an MLF's place: ``(T, N, ...) -> (T, N, ...)``, the price-of-spiking baseline."""

    def forward(self, x):
        return torch.relu(x)


def relu_network(model: nn.Module) -> nn.Module:
    for name, child in model.named_children():
        if isinstance(child, MLF):
            setattr(model, name, ReLUNeuron())
        else:
            relu_network(child)
    return model


def train_step_fn(model, size, batch=64, channels_last=False):
    torch.manual_seed(0)
    x = torch.rand(batch, 1, size, size)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def configs():
    digits = ClassifierConfig.for_dataset("digits")
    lean28 = ClassifierConfig(in_channels=1, image_size=28, classes=10, stem=32, stages=[32, 64, 128], blocks=1)
    return {8: digits, 28: lean28}


def on_backend(name, fn):
    """``fn`` run with the MLF implementation ``name`` ("eager" or "auto", the fused one where it works)."""
    def run():
        neurons.set_backend(name)
        try:
            return fn()
        finally:
            neurons.set_backend("auto")
    return run


def measure_node(args):
    torch.manual_seed(0)
    x = (torch.rand(4, 256, 32, 8, 8) * 3).requires_grad_()
    mlf = MLF()
    leaky = snn.Leaky(beta=0.25, threshold=0.6)  # same decay and first threshold as MLF's level 1

    def run_mlf():
        x.grad = None
        mlf(x).sum().backward()

    def run_leaky():
        x.grad = None
        leaky_forward(leaky, x).sum().backward()

    seconds = time_interleaved({"leaky_ms": run_leaky, "mlf_eager_ms": on_backend("eager", run_mlf),
                                "mlf_fused_ms": on_backend("auto", run_mlf)}, args.iters, args.repeats)
    return {"shape": list(x.shape), "levels": mlf.levels, **{k: 1e3 * v for k, v in seconds.items()}}


def label(backend):
    return "fused" if backend == "auto" else "eager"


def measure_train_steps(args):
    rows = {}
    for size, config in configs().items():
        row = {"layout": f"stem {config.stem}, stages {config.stages}, {config.blocks} block(s)", "batch": 64,
               "steps": config.steps}
        fns = {"relu_ms": train_step_fn(relu_network(SpikingResNet(config)), size),
               "mlf_eager_ms": on_backend("eager", train_step_fn(SpikingResNet(config), size)),
               "mlf_fused_ms": on_backend("auto", train_step_fn(SpikingResNet(config), size))}
        if size == 28:
            fns["mlf_fused_channels_last_ms"] = train_step_fn(SpikingResNet(config), size, channels_last=True)
        row.update({k: 1e3 * v for k, v in time_interleaved(fns, args.iters_step, args.repeats).items()})
        for backend in ("eager", "fused"):
            row[f"{backend}_over_relu"] = row[f"mlf_{backend}_ms"] / row["relu_ms"]
        rows[f"{size}x{size}"] = row
    return rows


def measure_apgd(args):
    import contextlib

    from snnlab import load_dataset, load_pretrained
    from snnlab.attacks import apgd

    defense = load_pretrained("digits", device="cpu")
    x, y = load_dataset("digits", "test")
    x, y = x[:64], y[:64]
    row = {"images": 64, "steps": args.apgd_steps, "target": "shipped digits joint defence (APGD-CE)"}
    frozen = apgd.frozen

    def attack(backend, freeze):
        # every image attacked for every step (drop_broken=False): a step's cost, not how soon images break
        run = apgd.APGD(defense, eps=0.1, steps=args.apgd_steps, seed=0, drop_broken=False)

        def call():
            apgd.frozen = frozen if freeze else contextlib.nullcontext
            try:
                run(x, y)
            finally:
                apgd.frozen = frozen
        return on_backend(backend, call)

    # before: eager MLF, the weights taking gradients too; then each change alone; now: fused MLF, frozen weights
    variants = {"eager_weight_grads": attack("eager", False), "fused_weight_grads": attack("auto", False),
                "eager": attack("eager", True), "fused": attack("auto", True)}
    seconds = time_interleaved(variants, 1, args.repeats)
    row.update({f"{name}_images_per_s": 64 * args.apgd_steps / s for name, s in seconds.items()})
    row["speedup"] = row["fused_images_per_s"] / row["eager_weight_grads_images_per_s"]
    return row


def measure_report():
    row = {"command": "snnlab report --out <tmp>"}
    for backend in ("eager", "auto"):
        env = dict(os.environ, SNNLAB_MLF=backend)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snnlab", "report", "--out", f"/tmp/neuron_speed_report_{backend}"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        row[f"{label(backend)}_s"] = time.perf_counter() - start
    return row


def rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=20, help="calls per timing of the node (default 20)")
    parser.add_argument("--iters-step", type=int, default=3, help="calls per timing of a training step (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per row; the median is kept (default 5)")
    parser.add_argument("--apgd-steps", type=int, default=10, help="APGD steps per timed attack (default 10)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-report", action="store_true", help="skip the main job's wall time")
    parser.add_argument("--out", default=results.path("neuron_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = {"benchmark": "the price of spiking: MLF eager vs fused, vs ReLU and snntorch.Leaky",
              "threads": args.threads}
    for key, measure in (("node", measure_node), ("train_step", measure_train_steps), ("apgd_step", measure_apgd)):
        result[key] = measure(args)
        print(key, json.dumps(rounded(result[key])), flush=True)  # progress: each row as it is measured
    node = result["node"]
    node["fused_over_leaky"] = node["mlf_fused_ms"] / node["leaky_ms"]
    node["eager_over_leaky"] = node["mlf_eager_ms"] / node["leaky_ms"]
    if not args.no_report:
        result["report"] = measure_report()
    result["targets"] = TARGETS
    result.update(torch=torch.__version__, snntorch=snn.__version__, fused=neurons.fused_status(),
                  machine=platform.processor() or platform.machine(), wall_s=time.perf_counter() - start,
                  command=" ".join(["python benchmarks/neuron_speed.py", *sys.argv[1:]]))
    result = rounded(result)
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
