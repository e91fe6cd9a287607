"""The SNN purifier, now :mod:`snnlab.purifiers.snn` (one module of the purifier family); this name keeps working."""
from .purifiers.snn import *  # noqa: F401,F403
from .purifiers.snn import NeSNN, Purifier, PurifierConfig, RecSNN, bounded_correction, unet_depth  # noqa: F401
