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
#
# <details><summary>Solution</summary>
#
# ```python
# from snnlab.neurons import mlf_trace
# for c in torch.arange(1.0, 2.0, 0.05):
#     if mlf_trace(torch.full((20,), float(c)))[1][:, 1].sum() > 0:
#         print(f"level 2 first fires at I = {c:.2f}"); break
# ```
# Without a spike, $u_2$ converges to $I/(1-\tau) = 4I/3$; it crosses 1.6 when
# $I > 1.2$, so the answer is 1.25 at a 0.05 grid.
# </details>

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
# Run `rate_encode` on the same image 100 times with T=4 and compare the mean
# spike count per pixel to the pixel values. How many steps would you need for
# the spike rate to be within 0.05 of the pixel value, for a pixel of 0.5?
#
# <details><summary>Solution</summary>
#
# Each step is a Bernoulli(p) draw, so the rate over $T$ steps has standard
# deviation $\sqrt{p(1-p)/T}$; for $p=0.5$ that is below 0.05 when $T > 100$.
# Direct encoding avoids this noise, which is one reason snnlab uses it by default.
# </details>

# %% [markdown]
# ## Summary
# - A LIF neuron integrates, leaks and fires; snntorch provides it, but keep its state reset.
# - MLF stacks three thresholds; their surrogate windows tile (0.1, 3.1), so far fewer neurons are dormant in the backward pass.
# - Direct encoding is deterministic; rate encoding is random and needs EOT when attacked.
#
# Next: lesson 2 builds a spiking classifier from MLF neurons and attacks it.
