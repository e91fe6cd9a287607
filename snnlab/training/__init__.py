"""Training every model of the system.

- :mod:`.engine`: the one training loop every model goes through (resume, step, checkpoint after every
  epoch, progress bar; one process or many), fed by a batch source and a loss.
- :mod:`.trainers`: the classifier, the SNN purifier (on FGSM examples, composite loss), the detector's
  calibration and ``train_all`` (the whole defence into one folder, resumable epoch by epoch).
- :mod:`.distributed`: the same, streamed from disk on one process or many (PyTorch DDP).
- :mod:`.recipes`: the settings used for each dataset, with where each value comes from.
"""
from .recipes import Recipe, recipe
from .trainers import ClassifierTraining, PurifierTraining, train_all, train_classifier, train_purifier

__all__ = ["ClassifierTraining", "PurifierTraining", "train_classifier", "train_purifier", "train_all",
           "Recipe", "recipe"]
