"""Training at dataset scale: torchvision datasets streamed through a ``DataLoader``, with augmentation.

:func:`snnlab.data.datasets.load_dataset` returns a whole split as one tensor: right for digits (1,797
images), wrong for Tiny-ImageNet (its train split alone is about 4.9 GB as float32). This module
returns ``torch.utils.data.Dataset`` objects instead, decoded image by image in DataLoader worker
processes:

- :func:`image_dataset`: a split of a torchvision dataset (or Tiny-ImageNet's ImageFolder tree),
  images as float32 ``(C, H, W)`` in [0, 1], with the standard augmentation on the train split of
  32x32 and 64x64 data (random crop with 4 or 8 pixels of padding, horizontal flip except on SVHN;
  none for digits or 28x28 data); ``name='fake-cifar10'`` / ``'fake-tiny-imagenet'`` give torchvision's ``FakeData``
  with those shapes, for tests and benchmarks with no download;
- :func:`make_loader`: a ``DataLoader`` with a ``DistributedSampler`` (one shard per process under
  torchrun, the whole split otherwise), seeded, so every process sees its own part of the same
  shuffled order each epoch.

The calibration split of a torchvision dataset is the same seeded 10% of its training set as in
:mod:`snnlab.data.datasets`, held out of "train".
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .datasets import SPLIT_SEED, SPLITS, dataset_info, open_torchvision

NO_FLIP = ("svhn",)  # house-number digits: a flipped digit is another glyph
# shape, train/test sizes
FAKE = {"fake-cifar10": ("cifar10", 512, 256), "fake-tiny-imagenet": ("tiny-imagenet", 256, 128)}


def augmentation(size: int, train: bool, flip: bool = True):
    """The torchvision transform for a split of ``size`` x ``size`` images: to float [0, 1]; on the train split of
    32x32 and 64x64 data also a random crop with ``size // 8`` pixels of padding and (``flip``) a horizontal flip."""
    from torchvision import transforms

    steps = []
    if train and size >= 32:
        steps += ([transforms.RandomCrop(size, padding=size // 8)]
                  + ([transforms.RandomHorizontalFlip()] if flip else []))
    return transforms.Compose(steps + [transforms.ToTensor()])  # PIL uint8 -> float32 (C, H, W) in [0, 1]


def image_dataset(name: str, split: str = "train", root: str | None = None, download: bool = False,
                  augment: bool = True) -> Dataset:
    """Split ``split`` of dataset ``name`` as a Dataset of ``(image (C, H, W) float32 in [0, 1], label)``.

    ``augment=False`` turns the train split's augmentation off. Digits is not streamed (use
    :func:`snnlab.data.datasets.load_dataset`). A dataset missing offline raises one ValueError naming the fix.
    """
    from torchvision import datasets

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    fake = FAKE.get(name)
    info = dataset_info(fake[0] if fake else name)
    if name == "digits":
        raise ValueError("digits is small enough to load whole: use snnlab.load_dataset('digits', split)")
    transform = augmentation(info.size, train=split == "train" and augment, flip=name not in NO_FLIP)
    if fake:
        count = fake[1] if split != "test" else fake[2]
        dataset = datasets.FakeData(count, (info.channels, info.size, info.size), info.classes, transform,
                                    random_offset=0 if split != "test" else 10**6)
    else:
        dataset = open_torchvision(name, split != "test", root, download)
        dataset.transform = transform
    if split == "test":
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SPLIT_SEED))
    held_out = len(dataset) // 10
    idx = order[:held_out] if split == "calibration" else order[held_out:]
    return Subset(dataset, idx.sort().values.tolist())


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool = True, seed: int = 0, workers: int = 0,
                rank: int = 0, world: int = 1, drop_last: bool = True) -> DataLoader:
    """A DataLoader over this process's shard (``rank`` of ``world``) of ``dataset``; ``batch_size`` per process.

    Call ``loader.sampler.set_epoch(epoch)`` before each epoch for a new shuffled order. The worker processes
    are started afresh each epoch (not persistent), so their random seeds come from torch's global generator
    at that epoch's start: a caller that seeds it per epoch makes a resumed epoch draw what it first drew."""
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed,
                                 drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=drop_last,
                      persistent_workers=False, pin_memory=torch.cuda.is_available())
