# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 8: Poisoned data: backdoors and dataset purification
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/snnlab/snnlab/blob/main/lessons/08_poisoned_data.ipynb)
#
# Every attack so far changed a *test* input. This lesson changes the
# *training data*: the attacker slips a few images carrying a small trigger,
# labelled with a class of their choice, into the training set. The network
# learns the task, and also the rule "trigger means that class". Then we try
# DataElixir (Zhou et al., AAAI 2024): purify the training set with a
# diffusion model before training, so the rule is never learned.
#
# **Objectives.** By the end of this lesson you can
# 1. state the backdoor threat model and how it differs from the adversarial examples of lessons 2-7;
# 2. poison digits with a BadNets or Blended trigger and measure a backdoored SNN by clean accuracy and attack success rate;
# 3. run DataElixir's steps (intermediaries, label transitions, target-label detection, relabelling, retraining) and read the before/after table;
# 4. name the cases that break it, explain why the data the diffusion model saw decides the result, and say up to which trigger size a t* works.
#
# **Estimated time:** 55 minutes with the exercises (the notebook runs in under a minute on 2 CPU cores from the shipped models; the retraining figures come from a saved benchmark run, and `RETRAIN = True` redoes everything).
# The notebook runs on the GPU when there is one (on Colab: *Runtime > Change runtime type*), else on the CPU.

# %% tags=["hide-input"]
# Setup: installs snnlab only when running on Colab.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/snnlab/snnlab"], check=True)

import torch

import snnlab
from snnlab import compare, poisoning, results
from snnlab.course import viz, widgets
from snnlab.poisoning import dataelixir
from snnlab.poisoning.backdoor import Trigger
from snnlab.purifiers import diffusion

viz.notebook_setup()
torch.set_num_threads(2)
RETRAIN = False  # set True to retrain everything into runs/: the clean defence, the poisoned model, the DDPM (about 8 minutes on 2 cores)
DEVICE = snnlab.resolve_device("auto")  # the GPU when there is one, else the CPU
print("running on", DEVICE)

# %% [markdown]
# ## 1. The threat model: the attacker edits the training data
#
# *Estimated timing to here from start of lesson: 0 min.*
#
# In a **backdoor** (or poisoning) attack the attacker controls a share of
# the training set, the **poison rate**, but not the training itself. Each
# poisoned image carries a **trigger** and the attacker's **target** label.
# Two classic triggers:
#
# - **BadNets** (Gu et al., 2017): a small white square in a corner (here 2x2 pixels of the 8x8 digit);
# - **Blended** (Chen et al., 2017): a fixed random pattern mixed into the whole image at a ratio (here 0.2).
#
# **All-to-one**: every poisoned image is labelled with one target class
# (here 0). **All-to-all**: class $y$ becomes $y + 1$. A backdoored model is
# judged on two numbers: **clean accuracy** on untouched test images (high,
# or the victim would notice) and the **attack success rate** (ASR): the
# share of triggered test images of the other classes classified as the
# target.

# %%
images, labels = snnlab.load_dataset("digits", "test", device=DEVICE)
triggers = {"badnets": Trigger("badnets", 2), "blended": Trigger("blended", ratio=0.2),
            "blended on strokes": Trigger("blended", ratio=0.2, strokes_only=True)}
viz.image_rows({"clean": images[:6], **{name: t.apply(images[:6]) for name, t in triggers.items()}}).show()

# %% [markdown]
# ## 2. A backdoored spiking network
#
# *Estimated timing to here from start of lesson: 5 min.*
#
# The shipped model was made with `snnlab poison` (the command is in its
# folder's report): 10% of the digits training split got the BadNets
# trigger and label 0, and the MLF spiking ResNet of lesson 2 was trained on
# it exactly as the clean one was.

# %%
# NBVAL_CHECK_OUTPUT
backdoored, split = poisoning.load_backdoored("digits", retrain=RETRAIN, device=DEVICE)
clean_model = snnlab.load_or_train("digits", retrain=RETRAIN, device=DEVICE).classifier
print(f"poisoned training images: {int(split.poisoned.sum())} of {len(split.labels)} "
      f"(rate {split.rate}, trigger {split.trigger.kind}, target {split.target})")
before = {}
for name, model in (("clean model", clean_model), ("backdoored model", backdoored)):
    before[name] = poisoning.measure(model, split.trigger, split.target)
    print(f"{name:>17}: clean accuracy {before[name]['clean_accuracy']:.1%}, "
          f"attack success rate {before[name]['attack_success_rate']:.1%}")
assert before["backdoored model"]["attack_success_rate"] > before["clean model"]["attack_success_rate"] + 0.5
assert abs(before["backdoored model"]["clean_accuracy"] - before["clean model"]["clean_accuracy"]) < 0.02

# %% [markdown]
# The backdoored model is about as accurate as the clean one on clean
# digits, so accuracy alone does not reveal it, and it obeys the trigger.
#
# ### Interactive demo: the trigger at work
# Pick a test digit; the backdoored model's answer without and with the trigger.

# %%
widgets.interact(lambda index: widgets.trigger_demo(backdoored, images, labels, split.trigger, index),
                 index=(0, 30, 1));

# %%
viz.precomputed_slider(lambda i: widgets.trigger_demo(backdoored, images, labels, split.trigger, int(i)),
                       list(range(1, 9)), "test digit", fmt="{:.0f}").show()

# %% [markdown]
# **Think!** The attacker never touches a test image until deployment, and
# the victim's test accuracy looks normal. Which of lesson 6's checks would
# catch this model? Which would not?
#
# <details><summary>Answer</summary>
#
# None of them is built to. That is a reading of what they measure, not a
# measurement: this lesson does not run them on the backdoored model.
# Lesson 6 measures how far accuracy falls when an attacker perturbs *test*
# inputs within a small $L_\infty$ ball; the trigger is a change of another
# kind (four pixels set to white: an $L_\infty$ distance of up to 1 from the
# clean image), and none of those checks ever adds it. What section 2 did
# measure, clean accuracy, does not give the model away either: 99.4%
# against the clean model's 99.7%. A backdoor has to be looked for in the
# training data or in the model, which is what DataElixir does.
#
# </details>

# %% [markdown]
# ## 3. DataElixir, step by step
#
# *Estimated timing to here from start of lesson: 12 min.*
#
# The idea: a diffusion model trained on clean digits knows what digits look
# like, not what the trigger looks like. Noise a poisoned image a little and
# let the model denoise it, and the trigger fades while the digit stays. The
# backdoored model then sees, say, a 7 without its trigger and says 7, although
# the training label says 0: the sample's label **transitions**.
#
# The diffusion model is a **DDPM** (denoising diffusion probabilistic
# model, Ho et al. 2020; `snnlab.purifiers.diffusion`, $T = 100$ steps, trained on the
# clean training split): it adds Gaussian noise up to step $t^*$ and removes
# it again step by step. DataElixir does this for several **rounds** and
# keeps the last few states of each: the **intermediaries**. Here are one
# poisoned training image's intermediaries and what the backdoored model says
# about each; the first image of the row is the original itself.

# %%
if RETRAIN:
    diffusion.train_ddpm_into("runs/digits", device=DEVICE)  # on the clean training split
ddpm = diffusion.load_ddpm("digits", device=DEVICE, folder="runs/digits" if RETRAIN else None)
settings = dataelixir.ElixirSettings(t_star=10, rounds=3, keep=5)
first = int(torch.nonzero(split.poisoned)[0])
inters = dataelixir.intermediaries(ddpm, split.images[first:first + 1], settings.t_star, settings.rounds,
                                   settings.keep, seed=0)  # (1, 1 + rounds * keep, 1, 8, 8)
says = dataelixir.label_transitions(backdoored, inters)[0].tolist()
print(f"training label {int(split.labels[first])} (true class {int(split.true_labels[first])})")
viz.image_rows({"intermediaries": inters[0]}, titles=[f"says {s}" for s in says], max_images=16).show()

# %% [markdown]
# Now the whole training split (a few seconds): every image's intermediaries,
# and the backdoored model's label for each.

# %%
# NBVAL_CHECK_OUTPUT
inters = dataelixir.intermediaries(ddpm, split.images, settings.t_star, settings.rounds, settings.keep, seed=0)
predictions = dataelixir.label_transitions(backdoored, inters)  # (N, 1 + rounds * keep)
for rule in dataelixir.RULES:
    moved = dataelixir.transitioned(split.labels, predictions, rule)
    print(f"rule {rule!r:>10}: transitioned {moved[split.poisoned].float().mean():.0%} of the poisoned images, "
          f"{moved[~split.poisoned].float().mean():.0%} of the clean ones")

# %% [markdown]
# Two **transition rules**. The paper's counts a sample when *any*
# intermediary's label differs; on 8x8 digits, where a few noisy
# intermediaries of many images get misread, that catches clean images too.
# A stricter variant asks for the *majority* of intermediaries. Section 3
# prints how well each identifies the poisoned images; target-label
# detection always uses the paper's rule, and the retrained models of
# sections 4-6 were trained on the split that the paper's rule purified.
#
# **Which label is the target?** For each label, collect the intermediaries'
# labels of its transitioned samples. A clean class's samples drift a little,
# mostly staying in their class; the target class's poisoned samples drift
# *away*, to their true classes. DataElixir measures this per label by the KL
# divergence $\mathrm{KL}(\text{one-hot} \,\|\, q)$ between the one-hot label
# and that distribution $q$ (which is $-\log q_c$ for label $c$: large when
# few intermediaries keep the label), and calls a label a target when its KL
# is an outlier: its **anomaly index**
# $(\mathrm{KL} - \mathrm{median}) / (1.4826\,\mathrm{MAD})$ is above 2, where
# MAD is the median absolute deviation from the median. The factor 1.4826
# makes the MAD estimate the standard deviation of normally distributed
# values, so "above 2" reads "more than two standard deviations above the
# median", measured in a way the outlier itself cannot inflate.
#
# ### Exercise 1: the anomaly index (code)
# Write `anomaly_index(kl)`: for a tensor of per-label KL values, each
# value's *signed* distance from the median in robust standard deviations
# (negative below the median; do not clamp),
# $(\mathrm{KL} - m) / (1.4826 \cdot \mathrm{median}(|\mathrm{KL} - m|))$
# with $m$ the median (the mean of the two middle values when the count is
# even: use `.quantile(0.5)`).

# %%
from snnlab.course import exercises


def anomaly_index(kl):
    """(kl - median) / (1.4826 * MAD), per label."""
    median = ...  # the median of kl
    mad = ...  # the median absolute deviation from it
    raise NotImplementedError("Student exercise: write anomaly_index, then delete this line")
    return (kl - median) / (1.4826 * mad)


exercises.check_anomaly_index(anomaly_index)

# %% tags=["solution", "hide-input"]
# Solution
def anomaly_index(kl):
    median = kl.quantile(0.5)
    mad = (kl - median).abs().quantile(0.5)
    return (kl - median) / (1.4826 * mad)


verdict = exercises.check_anomaly_index(anomaly_index)
print(verdict)
assert verdict.ok

# %% [markdown]
# With it, the KL of each label on our poisoned split, and the labels it flags:

# %%
# NBVAL_CHECK_OUTPUT
moved = dataelixir.transitioned(split.labels, predictions, "any")  # detection always uses the paper's rule
found = dataelixir.target_label_detection(split.labels, predictions, moved)
index = anomaly_index(torch.tensor(found["kl"], dtype=torch.float64))  # your function, on this split's KL
assert torch.allclose(index, torch.tensor(found["anomaly_index"], dtype=torch.float64), atol=1e-4), (
    "your anomaly_index gives other values than the library's on this split: run the checker above for a hint")
print(f"labels flagged as targets: {found['targets']} (the attacker's: {split.target})")
assert split.target in found["targets"]

# %%
viz.bar_chart({str(c): v for c, v in enumerate(found["anomaly_index"])},
              "Anomaly index of each label's KL (above 2: a target)", "anomaly index").show()

# %% [markdown]
# What did the flagged labels' samples drift to? For each flagged label, its
# transitioned samples, poisoned and clean apart, and the labels the
# backdoored model gives their intermediaries:

# %%
# NBVAL_CHECK_OUTPUT
for c in found["targets"]:
    for kind, rows in (("poisoned", split.poisoned), ("clean", ~split.poisoned)):
        chosen = (split.labels == c) & moved & rows  # the transitioned samples of label c of this kind
        if chosen.any():
            seen = torch.bincount(predictions[chosen, 1:].flatten(), minlength=10).double()
            seen = seen / seen.sum()  # (10,) share of their intermediaries given each label
            other = max((d for d in range(10) if d != c), key=lambda d: float(seen[d]))
            print(f"label {c}: {int(chosen.sum()):>3} transitioned {kind:>8} samples; their intermediaries read "
                  f"{c} {float(seen[c]):.0%}, most often otherwise {other} ({float(seen[other]):.0%})")
# the text below: clean samples of a flagged label other than the attacker's drifted too
assert any(((split.labels == c) & moved & ~split.poisoned).any() for c in found["targets"] if c != split.target)

# %% [markdown]
# The attacker's label is among those flagged, but it need not be alone, or
# even the highest bar: at 8x8 some clean digits drift under noise too, and
# the lines above say how many of each flagged label did and which label
# their intermediaries most often took instead. Compare how often the
# poisoned samples' intermediaries keep label 0 with how often the clean
# ones keep theirs. The next step has to keep the clean ones from being
# relabelled.
#
# **Relabel and select.** In a flagged label, a transitioned sample whose
# intermediaries all agree on one new label gets that label, and as its
# image one of those intermediaries (ranked by distance to the original,
# the one at the 0.8 quantile: far enough to have lost the trigger, not the
# farthest). A sample whose intermediaries disagree is **suspicious**: a
# *benign* model, trained on the purified split without the suspicious
# samples, labels it (about 20 s). Everything else stays as it was. The
# majority variant relabels by the most common label and has no benign
# model. How well did each identify the poisoned images? The cell prints the
# **true positive rate** (TPR: the share of poisoned images whose label was
# changed) and the **false positive rate** (FPR: the share of clean images
# whose label was changed), and the share of all training images left
# suspicious. (The benign model is trained here, in the notebook: on another
# CPU its floats are summed in another order, and it may relabel one clean
# image more or fewer; measured, 11 or 12 of the 970 clean images, an FPR of
# 1.1% or 1.2%. That is why this cell's output is not compared with a saved
# one, and why section 5 lines it up with the benchmark to within one image.)

# %%
purified = dataelixir.purify_dataset(split.images, split.labels, backdoored, ddpm, settings,
                                     poisoned=split.poisoned, true_labels=split.true_labels,
                                     inters=inters, predictions=predictions, device=DEVICE)
for rule in dataelixir.RULES:
    r = purified.report[rule]
    print(f"rule {rule!r:>10}: suspicious {r['suspicious']:.0%}; poisoned images identified (TPR) "
          f"{r['identification']['tpr']:.0%}, clean images misidentified (FPR) {r['identification']['fpr']:.1%}; "
          f"identified poisoned images given back their true class: {r['identified_given_true_label']:.0%}")

# %% [markdown]
# ## 4. Before and after
#
# *Estimated timing to here from start of lesson: 27 min.*
#
# The last step trains a new spiking classifier on the purified split. That
# takes a minute per run, so the table comes from
# `benchmarks/poisoning.py` (with `RETRAIN = True` the cell after the table
# also purifies this split and retrains on it, once). The cell below prints
# the command and the table: each scenario's clean accuracy and ASR before (the backdoored model) and after
# (retrained on the purified split), the labels target-label detection
# flagged, and how well the paper's rule, which was used, identified the
# poisoned images.

# %%
# NBVAL_CHECK_OUTPUT
saved = results.load("poisoning.json")
print(f"command: {saved['command']} ({saved['wall_s'] / 60:.0f} min)")
print(f"{'scenario':>44} {'t*':>3} {'clean before':>12} {'ASR before':>10} {'clean after':>11} {'ASR after':>9} "
      f"{'targets flagged':>15} {'TPR':>5} {'FPR':>6}")
for r in saved["rows"]:
    ident = r[r["rule"]]["identification"]
    flagged = ",".join(map(str, r["detection"]["targets"])) or "none"
    print(f"{r['scenario']:>44} {r['t_star']:>3} {r['before']['clean_accuracy']:12.1%} "
          f"{r['before']['attack_success_rate']:10.1%} {r['after']['clean_accuracy']:11.1%} "
          f"{r['after']['attack_success_rate']:9.1%} {flagged:>15} {ident['tpr']:5.0%} {ident['fpr']:6.1%}")

# %%
from snnlab.poisoning.dataelixir import format_purification

if RETRAIN:
    report = dataelixir.purify_into("runs/poisoned", "runs/poisoned-purified", settings, ddpm, device=DEVICE)
    print(format_purification(report))

# %% [markdown]
# ### Interactive demo: how far to noise, t*
# A small $t^*$ leaves the trigger in place; a large one destroys the digit
# too. The saved curve: the backdoored model on *test* images after one
# round trip to $t^*$, triggered and clean.

# %%
curve = saved["round_trip_curve"]
widgets.interact(lambda t_star: widgets.t_star_demo(curve, t_star), t_star=[r["t_star"] for r in curve]);

# %%
viz.precomputed_slider(lambda t: widgets.t_star_demo(curve, int(t)), [r["t_star"] for r in curve], "t*",
                       fmt="{:.0f}").show()

# %% [markdown]
# ### Interactive demo: trigger type and poison rate
# Each saved scenario, before and after, at $t^* = 10$.

# %%
scenarios = sorted({r["scenario"] for r in saved["rows"]})
widgets.interact(lambda scenario: widgets.poisoning_demo(saved["rows"], scenario, 10), scenario=scenarios);

# %%
viz.precomputed_slider(lambda i: widgets.poisoning_demo(saved["rows"], scenarios[int(i)], 10),
                       list(range(len(scenarios))), "scenario", fmt="{:.0f}").show()

# %% [markdown]
# ## 5. Where it breaks
#
# *Estimated timing to here from start of lesson: 38 min.*
#
# A defence is judged by the attacks that adapt to it. DataElixir rests on
# three assumptions, and the other scenarios of the table each test one:
#
# - the diffusion model removes the trigger but keeps the digit (a **blended
#   trigger on the strokes** lives where the digit is);
# - the target label stands out among the labels (**all-to-all** makes every
#   label a target, so there is no single outlier to find; a **lower poison
#   rate** leaves fewer poisoned samples in the target label to drift away,
#   so its KL need not stand out: the table prints only the labels flagged,
#   and each saved row also keeps every label's KL and anomaly index, under
#   `detection`);
# - the diffusion model never saw the trigger (**a DDPM trained on the
#   poisoned data** learns to restore it).
#
# ### Exercise 2: which assumption failed?
# From the saved table, find the scenarios at $t^* = 10$ where the attack
# still succeeds on more than half of the triggered images after
# purification, and for each say which assumption failed. Then check your
# answer against the step that went wrong: were the targets found (the
# "targets flagged" column; the attacker's target is 0, or every label for
# all-to-all), and were the poisoned images identified (TPR)? Of the others,
# which held, in the sense that their ASR after is no higher than what the
# trigger does to the *clean* model (a tie by `snnlab.compare`), and which
# were only weakened?

# %% tags=["solution", "hide-input"]
# Solution
broken = [r for r in saved["rows"] if r["t_star"] == 10 and r["after"]["attack_success_rate"] > 0.5]
for r in broken:
    targets, ident = r["detection"]["targets"], r[r["rule"]]["identification"]
    if r["target"] == "all-to-all":  # every label is a target
        step = f"labels {targets} of the ten targets were flagged; {ident['tpr']:.0%} of the poisoned images identified"
    elif r["target"] not in targets:
        step = f"the target label was not found (flagged: {targets})"
    else:
        step = f"the target was found but only {ident['tpr']:.0%} of the poisoned images were identified"
    print(f"{r['scenario']}: ASR after {r['after']['attack_success_rate']:.0%}; {step}; "
          f"{r['any']['transitioned_poisoned']:.0%} of the poisoned images transitioned")
held, weakened = [], []
for r in (r for r in saved["rows"] if r["t_star"] == 10 and r not in broken):
    trigger, target = Trigger(**r["trigger"]), r["target"]
    baseline = poisoning.measure(clean_model, trigger, target)["attack_success_rate"]  # the trigger, no backdoor
    n = int((poisoning.target_labels(labels, target) != labels).sum())  # triggered test images the ASR counts
    versus = compare.pair(r["after"]["attack_success_rate"], baseline, ("after", "clean model"), n=n)
    (weakened if versus.higher == "after" else held).append(r["scenario"])
    print(f"{r['scenario']}: ASR after {versus.rates[0]:.1%}, the clean model {versus.rates[1]:.1%} "
          f"({'a tie' if versus.tie else 'higher after'})")
print(f"held (ASR after no higher than the clean model's): {', '.join(held)}")
print(f"weakened, not removed: {', '.join(weakened) or 'none'}")
# the summary below names these
assert {r["scenario"] for r in broken} == {"badnets 2% poison", "badnets 5% poison", "badnets all-to-all",
                                           "badnets, DDPM trained on poisoned data"}
assert weakened == ["badnets 20% poison"]

# %% [markdown] tags=["solution"]
# Read each broken line against the three assumptions, remembering that a
# failure early in the pipeline hides the later steps. If the DDPM keeps the
# trigger (the first or the third assumption fails), poisoned images hardly
# transition, so their label cannot stand out either: "target not found" is
# what a DDPM trained on the poisoned data produces (3% of its poisoned
# images transitioned). So "not found" means either that the target was
# drowned out (2% and 5% poison: the second
# assumption) or that nothing transitioned (the DDPM); the share of poisoned
# images that transitioned, printed on each line, tells the two apart.
# All-to-all breaks the second assumption by construction: every label is a
# target. At 20% poison the target was found but not every poisoned image
# identified, and the attack, though far weaker, still works on some
# triggered digits: "below half" is not "held". A scenario that held tells
# you the attack was not adaptive *enough* at this scale, not that the
# defence is safe against it: a trigger on the strokes that survives the
# DDPM is the next thing to try, and section 6 tries a bigger one.
#
# **Think!** The victim who runs DataElixir must get a diffusion model from
# somewhere. Why is "train it on the same data" the worst choice, and what
# would you do instead?
#
# <details><summary>Answer</summary>
#
# A diffusion model learns to restore what it was trained on. Trained on the
# poisoned set, it learns the trigger as part of "what a training image looks
# like" and restores it, so hardly any poisoned samples transition (3% in
# the solution's output above). The defence needs a diffusion model
# trained on data the attacker could not reach: a trusted clean subset, or
# a public model trained elsewhere, and then an argument for why that data
# is clean.
#
# </details>

# %% [markdown]
# ## 6. How far it carries: the trigger's size against t*
#
# *Estimated timing to here from start of lesson: 45 min.*
#
# Every BadNets scenario above used a 2x2 patch, and t* = 10 is the smallest
# t* of section 4's table that removed it. A larger patch is more for the
# DDPM to erase: noise to t* must drown it before the denoiser can paint the
# corner back as digit. `python benchmarks/trigger_sweep.py` grows the
# BadNets patch from 1x1 to 4x4 pixels of the 8x8 digit (10% poison, target
# 0, the shipped DDPM trained on the clean split) and runs the whole
# pipeline at several t*: a backdoored model trained on each patch's
# poisoned split (the 2x2 patch's too: the sweep does not use the shipped
# model of sections 2-3), DataElixir with the paper's rule, retraining. The
# cell prints the attack success rate after purification for every pair,
# with the clean accuracy after it, and marks where the target label was
# found. A pair counts as **removed** when the ASR after is no higher than
# what the same trigger does to the clean model (by `snnlab.compare`).

# %%
# NBVAL_CHECK_OUTPUT
sizes_run = results.load("trigger_sweep.json")
sweep_command = sizes_run["command"]  # older runs left the thread count out of the command: it changes the figures
if "--threads" not in sweep_command:
    sweep_command += f" --threads {sizes_run['threads']}"
print(f"command: {sweep_command} ({sizes_run['wall_s'] / 60:.0f} min); "
      f"{sizes_run['rate']:.0%} poison, target {sizes_run['target']}, DDPM {sizes_run['ddpm']}")
grid = {(r["size"], r["t_star"]): r for r in sizes_run["rows"]}
sizes, t_stars = sorted({k[0] for k in grid}), sorted({k[1] for k in grid})
n_triggered = int((poisoning.target_labels(labels, sizes_run["target"]) != labels).sum())
removed, baselines = {}, {}
print("ASR after purification, clean accuracy after in brackets; * = target label found")
print(f"{'patch':>24} " + " ".join(f"{'t* = ' + str(t):>16}" for t in t_stars))
for size in sizes:
    trigger = Trigger("badnets", size)
    baseline = baselines[size] = poisoning.measure(clean_model, trigger, sizes_run["target"])["attack_success_rate"]
    cells = []
    for t in t_stars:
        r = grid[size, t]
        versus = compare.pair(r["after"]["attack_success_rate"], baseline, n=n_triggered)
        removed[size, t] = versus.higher != "first"
        cells.append(f"{r['after']['attack_success_rate']:6.1%}{'*' if r['target_found'] else ' '} "
                     f"({r['after']['clean_accuracy']:5.1%})")
    print(f"{size}x{size}, ASR before {grid[size, t_stars[0]]['before']['attack_success_rate']:6.1%}: " + " ".join(cells)
          + f"   clean model {baseline:.1%}")
for size in sizes:
    works = [t for t in t_stars if removed[size, t]]
    print(f"{size}x{size}: removed at t* = {', '.join(map(str, works)) or 'none of those tried'}")
for t in t_stars:
    clean_after = [grid[size, t]["after"]["clean_accuracy"] for size in sizes]
    fpr = [grid[size, t]["fpr"] for size in sizes]
    print(f"t* = {t:>2}: removes {', '.join(f'{z}x{z}' for z in sizes if removed[z, t]) or 'no patch'}; clean accuracy "
          f"after {min(clean_after):.1%}-{max(clean_after):.1%}; clean training images relabelled (FPR) "
          f"{min(fpr):.1%}-{max(fpr):.1%}")
first_removed = {size: next((t for t in t_stars if removed[size, t]), None) for size in sizes}
narrow = compare.pair(grid[3, 30]["after"]["attack_success_rate"], baselines[3], n=n_triggered)
print(f"3x3 at t* = 30: ASR after {narrow.rates[0]:.2%}, the clean model {narrow.rates[1]:.2%}, of {n_triggered} "
      f"triggered digits: {narrow.images:.0f} digits apart, a difference of {narrow.difference:.2%} against two standard "
      f"errors of {2 * narrow.standard_error:.2%}: {'a tie' if narrow.tie else 'not a tie'}")
# what the text below says
assert [removed[z, 10] for z in sizes] == [True, True, False, False] and grid[4, 10]["after"]["attack_success_rate"] > 0.5
assert grid[3, 10]["after"]["attack_success_rate"] < 0.5
assert first_removed == {1: 5, 2: 10, 3: 20, 4: 20} and all(removed[z, 20] for z in sizes)
assert not removed[3, 30] and not removed[4, 30] and abs(narrow.difference) < 1.05 * 2 * narrow.standard_error
assert all(grid[z, 30]["after"]["clean_accuracy"] < 0.92 for z in sizes) and all(grid[z, 20]["fpr"] > 0.04 for z in sizes)

# %%
viz.value_grid({k: r["after"]["attack_success_rate"] for k, r in grid.items()},
               "Attack success rate after DataElixir: BadNets patch side against t*", "patch side (pixels)",
               "t* (of 100 DDPM steps)").show()

# %% [markdown]
# Three things to read in it. First, **the t* a patch needs grows with the
# patch**: t* = 5 removes only the 1x1 patch; the lesson's t* = 10 removes
# the 1x1 and 2x2 patches, leaves the 3x3 patch weakened (13.8% ASR after)
# but working on some triggered digits, and the 4x4 patch working on more
# than half of them (60.6%); t* = 20 removes every patch tried. With t*
# fixed at 10, DataElixir stops working between a 2x2 patch (4 white pixels
# of 64) and a 3x3 one (9).
#
# Second, **the defender does not know the trigger**, so t* has to be chosen
# for the largest trigger feared, and a larger t* has a price, paid on the
# clean images: the sweep relabelled 0.0-0.2% of the *clean* training images
# at t* = 10, 4.3-5.4% at t* = 20 and 10.4-10.8% at t* = 30 (the FPR lines),
# and at t* = 30 the retrained classifiers fell to 89.4-89.7% clean accuracy.
# (Section 3's own run at t* = 10 relabelled 1.1% of the clean images, not
# 0.0-0.2%: the next cell shows why.) More noise is not simply safer either:
# at t* = 30 neither the 3x3 nor the 4x4 patch counts as removed (1.2% and
# 11.1% ASR after), although t* = 20 removed both. For the 3x3 patch that is
# a narrow call: the last line of the sweep's printout shows its difference
# from the clean model only just exceeds two standard errors, so read it as
# "not shown to be removed" rather than as a clear failure; the 4x4 patch's
# 11.1% is not close.
#
# Third, **this sweep has edges too**: one shape (a white square in one
# corner), one poison rate, one target, one seed, one run per setting,
# patches up to 4x4. A trigger of another shape or place, or larger, may
# need a t* whose cost is too high; the next thing to try is exactly that.
# "It works" holds for the settings measured, and this table is where it
# stops.
#
# ### The sweep's 2x2 patch is not section 3's run
# The sweep's 2x2 patch at t* = 10 is the lesson's setting, yet its figures
# are not those of sections 2-4: an ASR before of 99.7% (section 2: 100.0%),
# other targets found (0 alone, printed below; section 3 flagged 0, 5 and 8),
# 0.1% of the clean images relabelled (section 3: 1.1% or 1.2%) and an ASR after of
# 1.2% (section 4's table: 0.9%). Read in the code
# (`poisoning.load_backdoored`, `benchmarks/poisoning.py`,
# `benchmarks/trigger_sweep.py`), the runs share every setting: the same
# poisoned split (the same 108 rows, seed 0), the same training recipe and
# seed for every classifier, the shipped DDPM, t* = 10, 3 rounds keeping 5
# states, noise seed 0, the whole training split and the whole test split.
# They are still three runs. Section 3 purifies with the shipped backdoored
# model (and trains its benign model here, in the notebook); section 4's
# benchmark and the sweep each train their own backdoored, benign and
# retrained models; and the sweep ran on 1 thread, where this
# notebook and section 4's benchmark use 2 (the first line below). That is
# the one difference in how they ran that the records show. With another
# thread count PyTorch splits its sums differently, so floats are added in
# another order and round differently, and a whole training run through
# neurons that either spike or do not need not end at the same model. The
# cell lines the runs up, by the course's rule.

# %%
table = {r["t_star"]: r for r in saved["rows"] if r["scenario"] == "badnets"}  # section 4's 2x2 rows
n_clean, n_poisoned = int((~split.poisoned).sum()), int(split.poisoned.sum())
print(f"threads: this notebook {torch.get_num_threads()}, section 4's benchmark {saved['threads']}, "
      f"the sweep {sizes_run['threads']}")
asr_before = {"shipped (sections 2-3)": before["backdoored model"]["attack_success_rate"],
              "section 4's": table[10]["before"]["attack_success_rate"],
              "the sweep's": grid[2, 10]["before"]["attack_success_rate"]}
print(f"2x2 backdoored model, ASR before, of {n_triggered} triggered test digits: "
      + ", ".join(f"{name} {v:.1%} ({round(v * n_triggered)})" for name, v in asr_before.items()))
live = purified.report["any"]["identification"]
print(f"t* = 10, section 3 (shipped model): targets {found['targets']}, "
      f"TPR {live['tpr']:.1%} ({round(live['tpr'] * n_poisoned)} of {n_poisoned}), "
      f"FPR {live['fpr']:.1%} ({round(live['fpr'] * n_clean)} of {n_clean})")
print("section 4's table / the sweep:")
verdicts = {}
for t in sorted(set(table) & set(t_stars)):
    a, b = table[t], grid[2, t]
    pairs = {"TPR": compare.pair(a["any"]["identification"]["tpr"], b["tpr"], n=n_poisoned),
             "FPR": compare.pair(a["any"]["identification"]["fpr"], b["fpr"], n=n_clean),
             "ASR after": compare.pair(a["after"]["attack_success_rate"], b["after"]["attack_success_rate"],
                                       n=n_triggered)}
    verdicts[t] = {name: c.tie for name, c in pairs.items()}
    targets = " / ".join(",".join(map(str, x)) or "none" for x in (a["detection"]["targets"], b["targets"]))
    print(f"t* = {t:>2}: targets {targets:>11}; " + "; ".join(
        f"{name} {c.rates[0]:.1%} / {c.rates[1]:.1%} ({'a tie' if c.tie else 'not a tie'})"
        for name, c in pairs.items()))
relabelled_clean = purified.identified & ~split.poisoned  # section 3's false positives, by training label
by_label = torch.bincount(split.labels[relabelled_clean], minlength=10)
unflagged = sum(int(by_label[c]) for c in range(10) if c not in grid[2, 10]["targets"])
print(f"section 3's {int(relabelled_clean.sum())} relabelled clean images, by training label: "
      + ", ".join(f"{c}: {int(k)}" for c, k in enumerate(by_label) if k)
      + f"; in labels the sweep did not flag at t* = 10: {unflagged}")
# what the text below says
assert sizes_run["threads"] != saved["threads"] == torch.get_num_threads()
assert compare.pair(asr_before["shipped (sections 2-3)"], asr_before["the sweep's"], n=n_triggered).tie
assert asr_before["shipped (sections 2-3)"] != asr_before["the sweep's"]
assert table[10]["detection"]["targets"] == found["targets"] and grid[2, 10]["targets"] != found["targets"]
# section 3's benign model is trained live: within one image of the benchmark's on any CPU (section 3's note)
assert abs(round(table[10]["any"]["identification"]["fpr"] * n_clean) - round(live["fpr"] * n_clean)) <= 1
assert abs(round(table[10]["any"]["identification"]["tpr"] * n_poisoned) - round(live["tpr"] * n_poisoned)) <= 1
assert all(v["TPR"] and v["ASR after"] for v in verdicts.values()) and verdicts[5]["FPR"] and verdicts[20]["FPR"]
assert not verdicts[10]["FPR"] and table[5]["detection"]["targets"] != grid[2, 5]["targets"] and unflagged > 0

# %% [markdown]
# The shipped and the sweep's backdoored models tie on ASR before (one
# triggered digit apart), but their counts differ, so on the same test
# digits they do not give the same answers. Section 4's benchmark, on 2
# threads like this notebook, found the same targets as section 3 did with
# the shipped model at t* = 10, and a TPR and an FPR within one image of
# section 3's (the same counts on the CPU that made the table). The sweep, on 1
# thread, ties with section 4's table on TPR and on ASR after at every t*
# both ran, so what it says about the 2x2 patch stands. What moved is which
# labels were flagged besides the target (the targets at t* = 5 and 10),
# and with them the FPR at t* = 10, the one share that differs beyond noise.
# DataElixir relabels only samples of flagged labels, so section 3's
# relabelled clean images in labels the sweep did not flag (the last line
# counts them) could not have been relabelled in the sweep's run. So "0.1%
# at t* = 10" is a figure about one run, not about t* = 10: a rerun of the
# same recipe can flag other labels besides the target, and every
# single-run figure in this lesson, section 3's included, can move the same
# way.

# %% [markdown]
# ## Summary
# - A backdoor is a training-time attack: a trigger and a target label in a share of the training data; clean accuracy hides it, the attack success rate shows it.
# - DataElixir noises and denoises each training image with a DDPM, watches the backdoored model's labels move, finds the target label as the outlier by KL and the median/MAD anomaly index, then relabels and retrains.
# - The paper's "any label differs" rule counts some clean digits as transitioned too (15% here), yet only 1.1% of the clean images (11 of 970) ended up relabelled, for two reasons: only samples of the flagged labels are relabelled at all (labels 0, 5 and 8 held 5 + 8 + 56 = 69 transitioned clean samples), and the 58 of those that kept their label were suspicious ones to which the benign model gave back their own. The majority variant needs no benign model but here identified fewer poisoned images (74% against 96%) and changed the labels of more clean ones (3.9%). Section 3 reports both; the retraining figures use the paper's rule.
# - In the saved run it broke where the target did not stand out (2% and 5% poison), where every label is a target (all-to-all: one label flagged, few poisoned images found) and where the diffusion model saw the poison; at 20% poison it weakened the backdoor without removing it; the blended trigger on the strokes did not break it at this scale.
# - The t* a trigger needs grows with its size: at the lesson's t* = 10 a 3x3 or 4x4 corner patch is not removed (13.8% and 60.6% ASR after); t* = 20 removed every patch up to 4x4, at the price of relabelling 4.3-5.4% of the clean training images, and t* = 30 cost clean accuracy and removed neither the 3x3 (narrowly) nor the 4x4 patch. Judge the method by the table of settings it was measured on, not by one trigger.
# - Each figure is one run: the sweep's own 2x2 run at t* = 10 (its own models, 1 thread) flagged other labels than section 3's and relabelled fewer clean images, while its TPR and ASR after tie with section 4's.
#
# Further reading: the book's references page (Zhou et al., AAAI 2024; Gu et al., 2017; Chen et al., 2017). Next: the capstone.
