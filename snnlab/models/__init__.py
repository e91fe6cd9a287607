"""The models of the seed paper's system (Chen & Xu, arXiv 2404.17092).

- :mod:`.neurons`: the MLF spiking neuron (multi-level firing, rectangular surrogate) and input encodings.
- :mod:`.classifier`: the MLF spiking ResNet with Squeeze-and-Excitation (:class:`SpikingResNet`).
- :mod:`.detector`: the L-infinity detector on the purifier's noise map, with a calibrated threshold.
- :mod:`.defense`: the joint detect-purify-classify defence (:class:`JointDefense`).

The SNN purifier (NeSNN + RecSNN) is one of the purifier family, in :mod:`snnlab.purifiers.snn`.
"""
from .classifier import ClassifierConfig, SpikingResNet
from .defense import DefenseOutput, JointDefense
from .detector import Detector, auroc, detection_threshold, linf_score, roc
from .neurons import MLF, direct_encode, encode, rate_encode

__all__ = ["MLF", "direct_encode", "rate_encode", "encode", "ClassifierConfig", "SpikingResNet", "Detector",
           "linf_score", "detection_threshold", "roc", "auroc", "JointDefense", "DefenseOutput"]
