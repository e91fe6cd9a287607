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
# # Lesson 3: The noise estimator (NeSNN)
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/snnlab/snnlab/blob/main/lessons/03_noise_estimator.ipynb)
#
# **Objectives.** By the end of this lesson you can
# 1. say what the noise-level estimation SNN (NeSNN) outputs and how it is trained;
# 2. compare its noise map with the true adversarial perturbation;
# 3. explain the asymmetric loss and why under-estimating noise should cost more.
#
# **Estimated time:** 35 minutes with the exercises (the notebook itself runs in about 10 seconds on 2 CPU cores).
# The notebook runs on the GPU when there is one (on Colab: *Runtime > Change runtime type*), else on the CPU.

# %% tags=["hide-input"]
# Setup: installs snnlab only when running on Colab.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/snnlab/snnlab"], check=True)

import torch

import snnlab
from snnlab.attacks import AttackSpec, run_attack
from snnlab.course import viz, widgets

viz.notebook_setup()
torch.set_num_threads(2)
RETRAIN = False  # set True to retrain every model from scratch (about 6 minutes on 2 cores)
DEVICE = snnlab.resolve_device("auto")  # the GPU when there is one, else the CPU
print("running on", DEVICE)

# %% [markdown]
# ## 1. What NeSNN does
#
# *Estimated timing to here from start of lesson: 0 min.*
#
# The purifier follows the CBDNet denoiser in two halves. The first, NeSNN,
# looks at an image and estimates *how much noise each pixel carries*: a
# non-negative map $\hat\sigma$ of the same shape as the image. It is a few
# spiking convolution layers (MLF neurons, $T=4$ steps) with an analog output
# layer averaged over time and made non-negative with softplus.
#
# During training the "noise" is an adversarial perturbation: FGSM examples
# made against the trained classifier, with $\epsilon$ drawn at random, and
# the true noise map is $\sigma = |x_{adv} - x|$ per pixel (zero on clean images).

# %%
defense = snnlab.load_or_train("digits", retrain=RETRAIN, device=DEVICE)
classifier, purifier = defense.classifier, defense.purifier
print(purifier.nesnn)

# %% [markdown]
# ## 2. The noise map against the truth
#
# *Estimated timing to here from start of lesson: 5 min.*
#
# Attack a few test digits with FGSM at $\epsilon = 0.15$ and compare.

# %%
images, labels = snnlab.load_dataset("digits", "test", device=DEVICE)
x, y = images[:6], labels[:6]
adv = run_attack(AttackSpec("fgsm", 0.15), classifier, x, y)
with torch.no_grad():
    purified, sigma_hat = purifier.estimate(adv)
viz.image_rows({"adversarial": adv, "|true perturbation|": (adv - x).abs(), "NeSNN noise map": sigma_hat}).show()

# %% [markdown]
# How well does the mean estimate track $\epsilon$? For each $\epsilon$, the
# mean of $\hat\sigma$ over the first 200 test images, beside the mean true
# perturbation (smaller than $\epsilon$ because pixels already at 0 or 1 are clipped):

# %%
# NBVAL_CHECK_OUTPUT
for eps in [0.0, 0.05, 0.1, 0.2, 0.3]:
    a = images[:200] if eps == 0 else run_attack(AttackSpec("fgsm", eps), classifier, images[:200], labels[:200])
    with torch.no_grad():
        s = purifier.noise_map(a).mean().item()
    print(f"eps {eps:.2f}: mean |delta| = {(a - images[:200]).abs().mean().item():.3f}, mean sigma_hat = {s:.3f}")

# %% [markdown]
# Compare the two columns: at every $\epsilon$ the mean of $\hat\sigma$ lies
# above the mean true perturbation (at 0.10, 0.137 against 0.072), so on
# average NeSNN *over*-estimates the noise, the side the asymmetric loss of
# section 3 pushes it towards. These are means over all pixels: they do not
# show that it over-estimates at every pixel. Its estimate is lowest on clean
# images (0.035, not zero), the property the detector of lesson 5 builds on.
#
# ### Interactive demo: epsilon
# The true perturbation, NeSNN's map and the purified image for one digit.

# %%
widgets.interact(lambda eps, index: widgets.noise_demo(classifier, purifier, images, labels, eps, index),
                 eps="eps", index=(0, 19, 1));

# %%
viz.precomputed_slider(lambda e: widgets.noise_demo(classifier, purifier, images, labels, e, 0),
                       widgets.slider_values("eps")[::2], "eps").show()

# %% [markdown]
# ## 3. The asymmetric loss
#
# *Estimated timing to here from start of lesson: 15 min.*
#
# NeSNN is trained with CBDNet's asymmetric loss
#
# $$\mathcal{L}_{asym} = \operatorname{mean}\big(|\alpha - \mathbb{1}[\hat\sigma - \sigma < 0]| \cdot (\hat\sigma - \sigma)^2\big).$$
#
# With $\alpha < 0.5$, under-estimating ($\hat\sigma < \sigma$) costs
# $1-\alpha$ per squared error and over-estimating costs $\alpha$. A denoiser
# told there is less noise than there is leaves it in the image, which for an
# adversarial perturbation means the attack survives. snnlab uses $\alpha = 0.3$.
#
# ### Interactive demo: alpha

# %%
widgets.interact(widgets.asymmetric_demo, alpha="alpha");

# %%
viz.precomputed_slider(widgets.asymmetric_demo, widgets.slider_values("alpha")[::2], "alpha").show()

# %% [markdown]
# ### Exercise 1: the asymmetric loss (code)
# Write `asymmetric_loss(sigma_hat, sigma, alpha)` from the formula above: the
# mean over pixels of each squared error, weighted by
# $|\alpha - \mathbb{1}[\hat\sigma - \sigma < 0]|$. The checker compares it
# with `snnlab.purifiers.losses.asymmetric` and names the usual mistakes.

# %%
from snnlab.course import exercises


def asymmetric_loss(sigma_hat, sigma, alpha):
    """CBDNet's asymmetric loss: sigma_hat, sigma (N, C, H, W) -> a scalar."""
    under = ...  # 1.0 where sigma_hat under-estimates sigma, else 0.0
    weight = ...  # |alpha - under|
    raise NotImplementedError("Student exercise: write asymmetric_loss, then delete this line")
    return (weight * (sigma_hat - sigma) ** 2).mean()


exercises.check_asymmetric_loss(asymmetric_loss)

# %% tags=["solution", "hide-input"]
# Solution
def asymmetric_loss(sigma_hat, sigma, alpha):
    under = (sigma_hat - sigma < 0).float()
    weight = (alpha - under).abs()
    return (weight * (sigma_hat - sigma) ** 2).mean()


verdict = exercises.check_asymmetric_loss(asymmetric_loss)
print(verdict)
assert verdict.ok

# %% [markdown]
# In snnlab the purifier's correction is bounded by this estimate,
# $|x - \hat x| \le \hat\sigma$ per pixel (a design choice documented in
# `snnlab/purifiers/snn.py`): where NeSNN sees no noise, the image passes unchanged.
# Check it:

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    purified, sigma_hat = purifier.estimate(adv)
print("correction within the noise estimate everywhere:", bool(((purified - adv).abs() <= sigma_hat + 1e-6).all()))

# %% [markdown]
# ### Exercise 2: what it costs
# With $\alpha = 0.3$, how many times more does an under-estimate by 0.05
# cost than an over-estimate by 0.05? Check your answer with
# `snnlab.purifiers.losses.asymmetric`.

# %% tags=["solution", "hide-input"]
# Solution
from snnlab.purifiers.losses import asymmetric

s = torch.tensor([0.1])
ratio = (asymmetric(s - 0.05, s) / asymmetric(s + 0.05, s)).item()
print(f"under-estimate / over-estimate cost: {ratio:.4f}; (1 - alpha) / alpha = {0.7 / 0.3:.4f}")
assert abs(ratio - 0.7 / 0.3) < 1e-4

# %% [markdown] tags=["solution"]
# An under-estimate is weighted $1-\alpha = 0.7$ and an over-estimate
# $\alpha = 0.3$, with the same squared error, so the ratio is
# $(1-\alpha)/\alpha = 0.7/0.3 \approx 2.33$, as the cell prints.

# %% [markdown]
# **Think!** Why would a purifier trained with a *symmetric* loss
# ($\alpha = 0.5$) be easier to attack through the detector of lesson 5?
#
# <details><summary>Answer</summary>
#
# The detector fires when the purifier moves a pixel a lot. A noise estimator
# that errs low tells lesson 4's U-Net (the part of the purifier that removes
# the noise) there is little to remove, so the correction,
# and with it the detector's score, stays small on an adversarial image. An
# attacker who can push the estimate down hides the perturbation both from the
# purifier and from the detector; the asymmetric loss makes that direction of
# error the expensive one.
#
# </details>
#
# ## Summary
# - NeSNN maps an image to a per-pixel noise level; it is trained on FGSM examples against the classifier.
# - Its estimate rises with $\epsilon$ and stays low on clean images, which the detector in lesson 5 relies on.
# - The asymmetric loss makes under-estimation cost more, so noise is not left behind.
#
# Next: lesson 4 uses the noise map to reconstruct a clean image with a spiking U-Net.
