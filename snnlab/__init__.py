"""snnlab: adversarial robustness of spiking neural networks, taught and implemented in full.

The system (Chen & Xu, arXiv 2404.17092): an MLF spiking ResNet classifier
with Squeeze-and-Excitation, an SNN purifier (NeSNN noise estimator + RecSNN
residual U-Net), an L-infinity detector with a calibrated threshold, and the
joint detect-purify-classify defence; plus attacks, training and evaluation.

    >>> import snnlab
    >>> images, labels = snnlab.load_dataset("digits", "test")
    >>> defense = snnlab.load_pretrained("digits")
    >>> logits = defense(images)              # (N, 10)
    >>> defense.detector.flags(images)        # bool (N,)
"""
from ._version import __version__
from .data.datasets import class_names, load_dataset
from .devices import resolve_device
from .evaluation import compare  # stronger, weaker or a tie: snnlab.compare.pair / rank
from .pretrained import load_models, load_or_train, load_pretrained, pretrained_folder, read_manifest

__all__ = ["compare", "load_dataset", "class_names", "resolve_device", "load_pretrained", "load_models",
           "load_or_train", "pretrained_folder", "read_manifest", "__version__"]
