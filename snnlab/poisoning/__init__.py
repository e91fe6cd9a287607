"""Poisoned training data and its purification.

- :mod:`.backdoor`: BadNets-style triggers, poisoned splits, the backdoored classifier and its attack
  success rate.
- :mod:`.dataelixir`: DataElixir-style purification of a poisoned training set with a DDPM.

``from snnlab import poisoning`` gives the backdoor names at the top (``poisoning.Trigger``).
"""
from .backdoor import (
                       PoisonedSplit,
                       Trigger,
                       attack_success_rate,
                       clean_accuracy,
                       load_backdoored,
                       load_split,
                       measure,
                       poison,
                       poison_into,
                       predict,
                       save_split,
                       target_labels,
                       train_on,
)

__all__ = ["Trigger", "PoisonedSplit", "target_labels", "poison", "predict", "attack_success_rate",
           "clean_accuracy", "train_on", "save_split", "load_split", "measure", "poison_into", "load_backdoored"]
