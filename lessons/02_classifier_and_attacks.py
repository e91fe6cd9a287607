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
# # Lesson 2: A spiking classifier and its attacks
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/snnlab/snnlab/blob/main/lessons/02_classifier_and_attacks.ipynb)
#
# **Objectives.** By the end of this lesson you can
# 1. describe the MLF spiking ResNet with Squeeze-and-Excitation that snnlab uses as its classifier;
# 2. read a spike raster and per-layer firing rates;
# 3. attack the spiking classifier with FGSM and PGD through its surrogate gradients (torchattacks), and with a black-box transfer attack;
# 4. read an accuracy-vs-epsilon curve, and write FGSM yourself.
#
# **Estimated time:** 50 minutes with the exercises (the notebook itself runs in about 30 seconds on 2 CPU cores).
# The notebook runs on the GPU when there is one (on Colab: *Runtime > Change runtime type*), else on the CPU.
# New to adversarial examples? Read the book's short primer first.

# %% tags=["hide-input"]
# Setup: installs snnlab only when running on Colab.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/snnlab/snnlab"], check=True)

import torch
import torchattacks

import snnlab
from snnlab import compare
from snnlab.attacks import AttackSpec, run_attack
from snnlab.course import exercises, viz, widgets
from snnlab.models.neurons import record_spikes

viz.notebook_setup()
torch.set_num_threads(2)
RETRAIN = False  # set True to train every model from scratch (about 6 minutes on 2 cores)
DEVICE = snnlab.resolve_device("auto")  # the GPU when there is one, else the CPU
print("running on", DEVICE)

# %% [markdown]
# ## 1. The classifier
#
# *Estimated timing to here from start of lesson: 0 min.*
#
# The classifier is a small spiking ResNet built from MLF neurons (lesson 1).
# Each residual block follows MLF's *dormant-suppressed* design, with a
# Squeeze-and-Excitation (SE) channel attention before the second neuron:
#
# `out = MLF(SE(BN(conv(MLF(BN(conv(x))))))) + shortcut(x)`
#
# The image is fed directly at each of $T=4$ time steps and the logits are
# averaged over time. Below we load the pretrained digits models shipped with
# snnlab. To train them yourself, set `RETRAIN = True` in the setup cell.

# %%
defense, substitute = snnlab.load_or_train("digits", retrain=RETRAIN, with_substitute=True, device=DEVICE)
classifier = defense.classifier
print(classifier.config)
print(f"{sum(p.numel() for p in classifier.parameters()):,} parameters")

# %% [markdown]
# Clean accuracy on the 360 held-out test digits:

# %%
# NBVAL_CHECK_OUTPUT
images, labels = snnlab.load_dataset("digits", "test", device=DEVICE)
with torch.no_grad():
    clean_acc = (classifier(images).argmax(1) == labels).float().mean().item()
print(f"clean test accuracy: {100 * clean_acc:.1f}%")

# %% [markdown]
# ## 2. Spikes inside the network
#
# *Estimated timing to here from start of lesson: 8 min.*
#
# `record_spikes` runs one forward pass with hooks on every MLF layer. Each
# value is a spike count per step, 0 to 3 for MLF.

# %%
spikes = record_spikes(classifier, images[:1])
layer = "blocks.0.mlf1"
viz.spike_raster(spikes[layer][:, 0], title=f"{layer}: first 200 neurons, one digit").show()
rates = {name: s.mean().item() for name, s in spikes.items()}
viz.bar_chart(rates, "Mean spike count per neuron and step, by layer", "spikes / step").show()

# %% [markdown]
# ## 3. White-box attacks through surrogate gradients
#
# *Estimated timing to here from start of lesson: 15 min.*
#
# Three terms first.
#
# - An **adversarial example** is an input changed by a perturbation too small
#   to matter to a person, chosen so that the model gets it wrong.
# - "Too small" is a **threat model**: here the $L_\infty$ **ball** of radius
#   $\epsilon$ around the image $x$, every image $x'$ with
#   $\max_i |x'_i - x_i| \le \epsilon$ (every pixel may move by at most
#   $\epsilon$, all at once), and $x'$ must stay a valid image in $[0, 1]$.
# - The attacker's knowledge is part of the threat model too. **White-box**:
#   the attacker knows the model and its weights and can differentiate it.
#   **Black-box**: the attacker can only query it, or not even that (a
#   transfer attack, below). Lesson 4 adds a third, grey-box.
#
# What does $\epsilon$ mean on these digits? scikit-learn's digits have 17
# grey levels, 0 to 16, which snnlab scales to $[0, 1]$:

# %%
# NBVAL_CHECK_OUTPUT
levels = torch.unique(images)
step = (levels[1] - levels[0]).item()
print(f"{len(levels)} distinct pixel values; one grey level is {step:.4f} in [0, 1]")
for eps in (0.05, 0.1, 0.2):
    print(f"eps {eps}: every pixel may move by {eps / step:.1f} grey levels")

# %% [markdown]
# An attacker who knows the classifier differentiates it. The spikes have no
# true gradient, but the surrogate gradient the network was trained with is
# there for the attacker too. torchattacks takes any model from images in [0, 1]
# to logits:
#
# - **FGSM**: one step of size $\epsilon$ along the sign of the gradient;
# - **PGD**: many small steps, projected back into the $L_\infty$ ball of radius $\epsilon$.

# %%
x, y = images[:8], labels[:8]
adv = torchattacks.PGD(classifier, eps=0.2, alpha=0.05, steps=10)(x, y)
with torch.no_grad():
    pred_clean, pred_adv = classifier(x).argmax(1), classifier(adv).argmax(1)
viz.image_rows({"clean": x, "perturbation": adv - x, "adversarial": adv},
               titles=[f"{int(a)} -> {int(b)}" for a, b in zip(pred_clean, pred_adv)]).show()

# %% [markdown]
# Accuracy against each attack as $\epsilon$ grows (first 200 test images; PGD with 10 steps):

# %%
# NBVAL_CHECK_OUTPUT
n = 200
eps_values = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
curves = {"fgsm": {}, "pgd": {}, "transfer pgd (from a CNN)": {}}
correct = {name: {} for name in curves}  # per image: still classified right?
for eps in eps_values:
    for name, model, attack in [("fgsm", classifier, "fgsm"), ("pgd", classifier, "pgd"),
                                ("transfer pgd (from a CNN)", substitute, "pgd")]:
        adv = images[:n] if eps == 0 else run_attack(AttackSpec(attack, eps, 10), model, images[:n], labels[:n])
        with torch.no_grad():
            correct[name][eps] = classifier(adv).argmax(1) == labels[:n]  # (n,) bool
        curves[name][eps] = correct[name][eps].float().mean().item()
for name, c in curves.items():
    print(f"{name:>26}: " + "  ".join(f"{e:.2f}:{100 * a:5.1f}%" for e, a in c.items()))
transfer_vs_white = compare.pair(correct["transfer pgd (from a CNN)"][0.1], correct["pgd"][0.1],
                                 ("transfer", "white-box PGD"))
print("at eps 0.1, accuracy left:", transfer_vs_white)

# %%
rows = [{"threat_model": name, "attack": "", "eps": e, "evaluated_on": "classifier", "accuracy": a}
        for name, c in curves.items() for e, a in c.items()]
viz.accuracy_vs_eps(rows, title="Undefended spiking classifier").show()

# %% [markdown]
# **Think!** The adversarial images above were made with PGD at
# $\epsilon = 0.2$: each pixel moved by at most 3.2 grey levels (the grey-level
# cell printed it). Would a person shown them notice? At $\epsilon = 0.1$, half
# that, PGD still breaks more than a third of the digits (the curve above). What does
# that say about the $L_\infty$ ball as a model of "imperceptible" on 8x8
# images?
#
# <details><summary>Answer</summary>
#
# On 8x8 digits every pixel is a large part of the picture, and the
# perturbation panel shows it spread over the whole image: at $\epsilon = 0.2$
# a careful viewer sees speckle, and some of the changed digits look odd even
# at a glance. The $L_\infty$ ball is a
# convention that makes attacks and defences comparable, not a definition of
# what people perceive; a robustness figure holds only for the ball it names.
#
# </details>
#
# The **transfer** attack is black-box: the attacker trains their own small
# ordinary CNN on the same data, attacks it, and sends those images to the SNN.
# It is weaker than attacking the SNN itself (it leaves more digits right: the
# last line of the accuracy cell compares the two at $\epsilon = 0.1$, image by
# image, with `snnlab.compare`, which calls a difference of two images or of
# two standard errors a tie), but needs no access to it.
#
# ### Interactive demo: the epsilon slider
# Drag epsilon and watch the prediction and its confidence change; the right
# panel marks where you are on the PGD curve.

# %%
widgets.interact(lambda eps, index: widgets.attack_demo(classifier, images, labels, eps, index, curve=curves["pgd"]),
                 eps="eps", index=(0, 19, 1));

# %% [markdown]
# Without a kernel (the published book), the same demo over precomputed values:

# %%
viz.precomputed_slider(lambda e: widgets.attack_demo(classifier, images, labels, e, 0, curve=curves["pgd"]),
                       widgets.slider_values("eps")[::2], "eps").show()

# %% [markdown]
# ## 4. Real images: Fashion-MNIST
#
# *Estimated timing to here from start of lesson: 30 min.*
#
# On 8x8 digits a pixel is a large part of the picture. Fashion-MNIST is 70,000
# real 28x28 grey photographs of clothes and shoes (Zalando, MIT licence), 256
# grey levels each, installed offline from Debian's package
# (`apt-get install dataset-fashion-mnist`). snnlab ships a defence trained on
# it too: its classifier is a larger MLF-SE spiking ResNet of the same design
# (three stages of 32/64/128 channels, one block each, T = 4; still leaner than
# the paper's ResNet-20), trained on 54,000 of the 60,000 training images (the
# other 6,000 are the calibration split lesson 5 uses; the 10,000 test images
# are never trained on). Its manifest records only the training time that was
# measured (printed below). As in section 3 we attack the classifier alone,
# white-box, with PGD-10 at $\epsilon = 0.1$ on a few test images: no purifier
# or detector yet. Lessons 4 and 5 put the defence in front; there the same
# attack, still crafted on the classifier alone, is called grey-box.

# %%
fm = snnlab.load_pretrained("fashion-mnist", device=DEVICE)
fm_names = snnlab.class_names("fashion-mnist")
fm_images, fm_labels = snnlab.load_dataset("fashion-mnist", "test", limit=64, device=DEVICE)
manifest = snnlab.read_manifest(snnlab.pretrained_folder("fashion-mnist"))
timed = ", ".join(f"the {k.removesuffix('_s')} {s / 3600:.1f} h" for k, s in manifest["train_seconds"].items() if s)
untimed = ", ".join(f"{n} of the {k}'s" for k, n in manifest["untimed_epochs"].items())
print(f"{sum(p.numel() for p in fm.classifier.parameters()):,} classifier parameters; measured training time on "
      f"2 CPU cores: {timed} (the substitute is the CNN of transfer attacks); epochs trained before the clock "
      f"was kept, so of unknown time: {untimed}")
x, y = fm_images[:6], fm_labels[:6]
fm_adv = run_attack(AttackSpec("pgd", 0.1, 10), fm.classifier, x, y)  # (6, 1, 28, 28), seeded
with torch.no_grad():
    before, after = fm.classifier(x).argmax(1), fm.classifier(fm_adv).argmax(1)
viz.image_rows({"clean": x, "perturbation": fm_adv - x, "adversarial": fm_adv},
               titles=[f"{fm_names[int(a)]} -> {fm_names[int(b)]}" for a, b in zip(before, after)]).show()

# %%
# NBVAL_CHECK_OUTPUT
print(f"one grey level is 1/255 = {1 / 255:.4f}; at eps 0.1 every pixel may move by {0.1 * 255:.1f} grey levels")
fm_correct = {}
for name, attack in [("clean", None), ("fgsm", "fgsm"), ("pgd-10", "pgd")]:
    adv = fm_images if attack is None else run_attack(AttackSpec(attack, 0.1, 10), fm.classifier, fm_images,
                                                      fm_labels)
    with torch.no_grad():
        fm_correct[name] = fm.classifier(adv).argmax(1) == fm_labels  # (64,) bool
    where = "" if attack is None else " at eps 0.1"
    print(f"{name + where:>18}: {fm_correct[name].float().mean():6.1%} of the first 64 test images right")
assert fm_correct["pgd-10"].sum() == 0  # the text below: PGD-10 turns every one of them into another class

# %% [markdown]
# **Think!** Compare the perturbation row with the digits' above (made at
# $\epsilon = 0.2$, twice this; each row is drawn on its own colour scale, so
# compare the pattern, not the strength). Here $\epsilon = 0.1$ is a fine
# texture over a detailed picture, and PGD-10 leaves none of these 64 images
# right (56 were right clean; on the whole test split the classifier is 93.0%
# accurate, so these 64 are a little harder than average). Which
# scale makes "imperceptible" closer to true, and why does the same
# $\epsilon$ mean different things on the two datasets?
#
# <details><summary>Answer</summary>
#
# In grey levels both move each pixel by a tenth of the range: 1.6 of the
# digits' 16 grey-level steps, 25.5 of Fashion-MNIST's 255 (the cell above). What differs
# is what one pixel is. On an 8x8 digit a pixel is 1/64 of the picture and a
# stroke is one or two pixels wide, so the change reads as blocks on the shape
# itself; on a 28x28 photograph it is spread as fine grain over 784 pixels of
# texture and edges: closer to imperceptible, though at 0.1 neither truly is. The
# $L_\infty$ radius is in pixel units, not in units of what a viewer sees: a
# figure at $\epsilon = 0.1$ on one dataset says nothing about
# $\epsilon = 0.1$ on another.
#
# </details>

# %% [markdown]
# ### Exercise 1: FGSM by hand (code)
# Write `fgsm(model, images, labels, eps)`: one step of size $\epsilon$ along
# the sign of the gradient of the cross-entropy loss with respect to the
# images, $x' = \text{clip}_{[0,1]}(x + \epsilon\,\text{sign}(\nabla_x
# \mathcal{L}(f(x), y)))$. The checker compares it with torchattacks' `FGSM`
# on a small model. Then attack the spiking classifier with it.

# %%
def fgsm(model, images, labels, eps):
    """FGSM: images (N, C, H, W) in [0, 1], labels (N,) -> adversarial images (N, C, H, W)."""
    images = images.clone().requires_grad_(True)
    loss = ...  # the cross-entropy of model(images) against labels (torch.nn.functional.cross_entropy)
    grad = ...  # its gradient with respect to images (torch.autograd.grad)
    raise NotImplementedError("Student exercise: write fgsm, then delete this line")
    return (images + eps * grad.sign()).clamp(0, 1).detach()


exercises.check_fgsm(fgsm)

# %% tags=["solution", "hide-input"]
# Solution
def fgsm(model, images, labels, eps):
    images = images.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    grad, = torch.autograd.grad(loss, images)
    return (images + eps * grad.sign()).clamp(0, 1).detach()


verdict = exercises.check_fgsm(fgsm)
print(verdict)
assert verdict.ok
mine = fgsm(classifier, images[:200], labels[:200], 0.1)
with torch.no_grad():
    mine_acc = (classifier(mine).argmax(1) == labels[:200]).float().mean().item()
print(f"the spiking classifier under your FGSM at eps 0.1: {mine_acc:.1%} "
      f"(torchattacks' FGSM above: {curves['fgsm'][0.1]:.1%})")
assert abs(mine_acc - curves["fgsm"][0.1]) < 1e-9

# %% [markdown]
# ### Exercise 2: how many steps?
# More steps should make an attack stronger. Measure the classifier's accuracy
# at $\epsilon=0.1$ on the first 200 test images with 1, 5, 10 and 40 steps,
# twice: with torchattacks' PGD (`AttackSpec("pgd", 0.1, steps)`: a fixed step
# of $2.5\epsilon/\text{steps}$, the last iterate returned) and with snnlab's
# APGD (Auto-PGD, Croce & Hein's version of PGD: its step size starts large
# and is halved whenever progress stalls, and it keeps the best iterate;
# lesson 6 uses it again): `APGD(classifier, eps=0.1, steps=steps)` from
# `snnlab.attacks.apgd`. Which curve keeps falling? What
# does that tell you about how many steps, and which attack, an honest
# evaluation needs?

# %% tags=["solution", "hide-input"]
# Solution
from snnlab.attacks.apgd import APGD


def correct_on(adv, y):
    with torch.no_grad():
        return classifier(adv).argmax(1) == y  # (N,) bool, per image


x200, y200 = images[:200], labels[:200]
pgd, apgd = {}, {}
for steps in [1, 5, 10, 40]:
    pgd[steps] = correct_on(run_attack(AttackSpec("pgd", 0.1, steps), classifier, x200, y200), y200)
    apgd[steps] = correct_on(APGD(classifier, eps=0.1, steps=steps)(x200, y200), y200)
    print(f"{steps:>2} steps: PGD (fixed step, last iterate) {pgd[steps].float().mean():6.1%}   "
          f"APGD {apgd[steps].float().mean():6.1%}")
verdicts = {"PGD, 40 steps against 10": compare.pair(pgd[40], pgd[10], ("PGD-40", "PGD-10")),
            "APGD, 40 steps against 10": compare.pair(apgd[40], apgd[10], ("APGD-40", "APGD-10")),
            "40 steps, APGD against PGD": compare.pair(apgd[40], pgd[40], ("APGD-40", "PGD-40"))}
for question, verdict in verdicts.items():
    print(f"{question}: {verdict}")
assert verdicts["PGD, 40 steps against 10"].lower != "PGD-40"  # 30 more fixed steps found nothing more
assert verdicts["APGD, 40 steps against 10"].lower == "APGD-40"  # APGD's 30 more steps did
assert verdicts["40 steps, APGD against PGD"].lower == "APGD-40"

# %% [markdown] tags=["solution"]
# The fixed-step PGD does *not* keep falling: at 40 steps its step is so
# small, and its last iterate so arbitrary, that it does no better than with
# 10 (`snnlab.compare` finds no difference beyond noise, or one the wrong
# way). Lesson 6's sanity check "more steps never help the defence" is what
# such a curve trips, and a flat or rising curve is a verdict on the attack,
# not on the model. APGD's printed figure is lower at each larger step
# count, though the cell tests only one step of that curve: its 40 steps
# leave fewer digits right than its 10, by more than noise, and fewer than
# PGD's 40 too. Whether it would fall further past 40 steps, these runs do
# not say. An honest evaluation raises the step count (and
# tries stronger attacks) until the figure stops moving, and reports the
# strongest; spiking networks, whose surrogate gradients are a coarse guide,
# can look robust under a weak attack.

# %% [markdown]
# ## Summary
# - The classifier is an MLF spiking ResNet with SE attention, run for $T=4$ steps on directly encoded images.
# - Its surrogate gradients let an attacker run FGSM and PGD; at $\epsilon=0.2$ PGD breaks it almost completely.
# - A transfer attack from an ordinary CNN works without access to the SNN, but is weaker.
# - On real 28x28 images (Fashion-MNIST) the same $\epsilon$ is a fine grain, and PGD-10 still breaks that classifier
#   (0 of the first 64 test images right at 0.1).
# - FGSM is three lines: a loss, its gradient, a signed step; you wrote it and matched torchattacks.
#
# Next: lesson 3 estimates how much noise an image carries, the first half of the purifier.
