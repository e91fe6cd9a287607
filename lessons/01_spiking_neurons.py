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
# # Lesson 1: Spiking neurons
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/snnlab/snnlab/blob/main/lessons/01_spiking_neurons.ipynb)
#
# This course builds, attacks and measures one defence of spiking neural
# networks: Chen & Xu, *Robust and Efficient Adversarial Defense in SNNs via
# Image Purification and Joint Detection*, arXiv 2404.17092 v2 (2025). Its
# classifier is built from the MLF neurons of this lesson; lessons 3-5 build its
# purifier and detector, and lesson 6 attacks the whole defence.
#
# **Objectives.** By the end of this lesson you can
# 1. describe how a leaky integrate-and-fire (LIF) neuron turns an input current into spikes, using `snntorch.Leaky`;
# 2. explain the multi-level firing (MLF) neuron and why its several surrogate-gradient windows keep gradients alive;
# 3. tell direct encoding from rate encoding, and say which one makes an attack need EOT.
#
# **Estimated time:** 25 minutes to read and play; the notebook runs in seconds.

# %% tags=["hide-input"]
# Setup: installs snnlab only when running on Colab.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/snnlab/snnlab"], check=True)

import torch

import snnlab
from snnlab import viz, widgets
from snnlab.neurons import MLF, MLF_THRESHOLDS, direct_encode, lif_trace, rate_encode

viz.notebook_setup()
torch.manual_seed(0)

# %% [markdown]
# ## 1. The leaky integrate-and-fire neuron
#
# A LIF neuron keeps a membrane potential $U$. Each time step it leaks a
# fraction of it, adds the input current $I$, and fires a spike $S=1$ when $U$
# crosses the threshold $V_{th}$, after which the threshold is subtracted:
#
# $$U[t] = \beta\,U[t-1] + I[t] - S[t-1]\,V_{th}, \qquad S[t] = H(U[t] - V_{th}).$$
#
# We use snntorch's own neuron, `snntorch.Leaky`. One trap to know: snntorch
# neurons keep their membrane between calls unless you reset it.
# `snnlab.neurons.lif_trace` initialises it inside every call, so the same input
# always gives the same trace.

# %%
current = torch.zeros(40)
current[5:] = 0.3
membrane, spikes = lif_trace(current, beta=0.9, threshold=1.0)
print(f"{int(spikes.sum())} spikes in 40 steps; first spike at step {int(spikes.nonzero()[0])}")

# %% [markdown]
# ### Interactive demo: beta, threshold and input current
#
# Move the sliders. With $\beta=0.9$ the membrane settles at $I/(1-\beta)$ if no
# spike resets it, so a current of 0.05 never reaches a threshold of 1.0.

# %%
widgets.interact(widgets.lif_demo, beta="beta", threshold="threshold", current="current");

# %% [markdown]
# The same demo without a kernel (this figure's slider works in the published book):

# %%
viz.precomputed_slider(lambda b: widgets.lif_demo(beta=b, current=0.3), widgets.slider_values("beta")[::7],
                       "beta").show()

# %% [markdown]
# ## 2. The multi-level firing (MLF) neuron
#
# A spike is a step function, whose derivative is zero almost everywhere. SNNs
# train with a *surrogate gradient*: the forward pass spikes, the backward pass
# pretends the step was a smooth bump. With one threshold, a neuron whose
# membrane sits far from it passes no gradient: it is *dormant*.
#
# MLF (Feng et al., IJCAI 2022) gives each neuron $K=3$ membranes driven by the
# same input, with thresholds 0.6, 1.6 and 2.6, a decay $\tau = 0.25$ and a hard
# reset:
#
# $$u_k[t] = \tau\,u_k[t-1]\,(1 - o_k[t-1]) + x[t], \qquad o_k[t] = H(u_k[t] - V_{th,k}), \qquad \text{out}[t] = \sum_k o_k[t].$$
#
# Each level has a rectangular surrogate of width 1 around its threshold, so the
# windows tile the membrane axis from 0.1 to 3.1:

# %%
viz.surrogate_windows(MLF_THRESHOLDS).show()

# %% [markdown]
# Compare how many neurons pass a gradient for random inputs, with one level
# and with three (`MLF(thresholds=...)` takes any increasing list):

# %%
x = (torch.rand(4, 10000) * 3.2).requires_grad_()
for thresholds in [(0.6,), MLF_THRESHOLDS]:
    x.grad = None
    MLF(thresholds)(x).sum().backward()
    alive = (x.grad != 0).float().mean().item()
    print(f"{len(thresholds)} level(s): {100 * alive:.1f}% of inputs receive a gradient")

# %% [markdown]
# ### Interactive demo: input current and number of levels

# %%
widgets.interact(widgets.mlf_demo, current="current", levels="levels");

# %%
viz.precomputed_slider(lambda c: widgets.mlf_demo(current=c, levels=3), widgets.slider_values("current")[::6],
                       "current").show()

# %% [markdown]
# ### Exercise 1
# For a constant input of 1.0, level 1 fires every step while level 2 never
# does. Using `snnlab.neurons.mlf_trace`, find the smallest constant current
# (to 0.05) at which level 2 fires at least once in 20 steps. Explain the value
# from the update equation.

# %% tags=["solution", "hide-input"]
# Solution
from snnlab.neurons import mlf_trace

grid = torch.arange(1.0, 2.0, 0.05)  # float32, like the model
first = next(c for c in grid if mlf_trace(torch.full((20,), float(c)))[1][:, 1].sum() > 0)
print(f"level 2 first fires at I = {first:.2f} (the float32 grid value is {float(first):.10f})")
print(f"limit of u_2 without a spike, 4I/3 = {4 * float(first) / 3:.10f} vs threshold 1.6")
assert abs(float(first) - 1.2) < 0.025  # the theory below: the first grid point at or above I = 1.2

# %% [markdown]
# Without a spike, level 2's membrane follows $u_2 \leftarrow \tau u_2 + I$ and
# converges to $I/(1-\tau) = 4I/3$ from below; it reaches $1.6$ only if
# $4I/3 \ge 1.6$, that is $I \ge 1.2$. The grid point printed "1.20" is, in
# float32, a hair above 1.2, so its limit is a hair above 1.6 and the level
# fires once the membrane has converged (within 20 steps). The answer is the
# first grid point at or above 1.2: 1.20 here. On a grid whose point sat a hair
# *below* 1.2 it would be the next one.

# %% [markdown]
# ## 3. Encoding images as spikes
#
# - **Direct encoding** feeds the analog image at every one of the $T=4$ steps;
#   the first layer's neurons do the spiking. It is deterministic.
# - **Rate encoding** draws a Bernoulli spike per pixel and step, with the pixel
#   value as probability. It is random, so two forward passes differ, and an
#   attacker must average gradients over samples (EOT, lesson 6).

# %%
images, labels = snnlab.load_dataset("digits", "test")
direct = direct_encode(images[:1], 4)
rate = rate_encode(images[:1], 4, generator=torch.Generator().manual_seed(0))
viz.image_rows({"direct (T=4)": direct[:, 0], "rate (T=4)": rate[:, 0]}, titles=[f"t={t}" for t in range(4)],
               max_images=4).show()

# %% [markdown]
# ### Exercise 2
# Rate encoding with $T$ steps estimates a pixel value $p$ by a spike rate. For
# a pixel of 0.5, how many steps do you need so that the rate lands within 0.05
# of 0.5 in (a) about two draws out of three, (b) 95% of draws? Reason first,
# then check with `rate_encode` on a constant image of 0.5 and many draws.

# %% tags=["solution", "hide-input"]
# Solution
def share_within(steps, draws=4000, p=0.5, tol=0.05):
    rates = rate_encode(torch.full((draws, 1), p), steps, generator=torch.Generator().manual_seed(0)).mean(0)
    return ((rates - p).abs() <= tol).float().mean().item()


for steps in (4, 101, 385):
    print(f"T = {steps:>3}: {share_within(steps):.1%} of draws within 0.05 of 0.5")
assert 0.6 < share_within(101) < 0.8 and share_within(385) > 0.93

# %% [markdown]
# Each step is a Bernoulli($p$) draw, so the rate over $T$ steps has standard
# deviation $\sqrt{p(1-p)/T}$, which for $p = 0.5$ is $0.5/\sqrt{T}$. One
# standard deviation below 0.05 needs $T > 100$, and by the normal
# approximation about 68% of draws then fall within 0.05 (answer (a)); two
# standard deviations, for about 95% (answer (b)), need $T \ge 385$. Either way
# it is far more than the $T = 4$ steps the classifier uses, which is one
# reason snnlab encodes directly by default: direct encoding has no such noise.

# %% [markdown]
# ## Summary
# - A LIF neuron integrates, leaks and fires; snntorch provides it, but keep its state reset.
# - MLF stacks three thresholds; their surrogate windows tile (0.1, 3.1), so far fewer neurons are dormant in the backward pass.
# - Direct encoding is deterministic; rate encoding is random and needs EOT when attacked.
#
# Next: lesson 2 builds a spiking classifier from MLF neurons and attacks it.
