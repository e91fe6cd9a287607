"""The datasets and how they are fed.

- :mod:`.datasets`: ``load_dataset(name, split)`` (digits embedded; Fashion-MNIST from Debian's package
  offline; the torchvision datasets from ``root``), the splits, and the input checks every model runs.
- :mod:`.loaders`: streamed loading for the datasets too large for memory (augmentation, DDP sampling).
"""
from .datasets import DATASETS, DatasetInfo, check_images, dataset_info, load_dataset
from .loaders import image_dataset, make_loader

__all__ = ["DATASETS", "DatasetInfo", "check_images", "dataset_info", "load_dataset", "image_dataset", "make_loader"]
