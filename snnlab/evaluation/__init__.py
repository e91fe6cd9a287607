"""Measuring robustness honestly.

- :mod:`.evaluate`: accuracy under each threat model, the light and full attack ensembles, per-image
  worst case, resumable in chunks of images.
- :mod:`.compare`: whether one figure beats another beyond noise, or ties (scipy's statistics).
- :mod:`.smoothing`: randomized smoothing's certified radius (Cohen et al.), for Consistency Purification.
"""
from . import compare, evaluate  # modules (`evaluate.evaluate` is the function); smoothing: import it

__all__ = ["compare", "evaluate"]
