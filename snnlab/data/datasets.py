"""Datasets and the image contract every snnlab model checks.

Images are float32 tensors in [0, 1] shaped ``(N, C, H, W)``; labels are
long tensors ``(N,)``.

Default data: scikit-learn's ``load_digits`` (1,797 real 8x8 handwritten
digits shipped inside scikit-learn, no network), pixels 0..16 scaled to
[0, 1], split once with a fixed seed into stratified train (60%),
calibration (20%, for the detector threshold) and test (20%) parts.

Fashion-MNIST is found offline in Debian's package (``apt-get install
dataset-fashion-mnist``: the four original IDX files in
``/usr/share/datasets/fashion-mnist/``) when no ``root`` is given, then under
``root`` (default ``~/.snnlab/data``), then downloaded by torchvision with
``download=True``. Torchvision datasets (MNIST, Fashion-MNIST, CIFAR-10,
CIFAR-100, SVHN) are read from a local ``root`` or downloaded with ``download=True`` when online;
Tiny-ImageNet is read from a local ImageFolder tree. Their calibration split
is a fixed, seeded 10% of the official training set, held out of "train".
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..devices import resolve_device

SPLITS = ("train", "calibration", "test")
SPLIT_SEED = 0  # fixed: the same split on every machine


@dataclass(frozen=True)
class DatasetInfo:
    channels: int  # C
    size: int  # H = W
    classes: int  # number of labels
    source: str  # where the data comes from, for error messages


DATASETS = {
    "digits": DatasetInfo(1, 8, 10, "scikit-learn (embedded, no download)"),
    "mnist": DatasetInfo(1, 28, 10, "torchvision.datasets.MNIST"),
    "fashion-mnist": DatasetInfo(1, 28, 10, "torchvision.datasets.FashionMNIST"),
    "cifar10": DatasetInfo(3, 32, 10, "torchvision.datasets.CIFAR10"),
    "cifar100": DatasetInfo(3, 32, 100, "torchvision.datasets.CIFAR100"),
    "svhn": DatasetInfo(3, 32, 10, "torchvision.datasets.SVHN"),
    "tiny-imagenet": DatasetInfo(3, 64, 200, "a local ImageFolder (tiny-imagenet-200/{train,val})"),
}


def dataset_info(name: str) -> DatasetInfo:
    """Channels, size and classes of a dataset by name; ValueError naming the choices if unknown."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}") from None


def class_names(name: str) -> tuple:
    """The label names of dataset ``name``, index by index: Fashion-MNIST's are torchvision's
    (``FashionMNIST.classes``); the digits' are "0" to "9"; elsewhere the label numbers."""
    info = dataset_info(name)
    if name == "fashion-mnist":
        from torchvision.datasets import FashionMNIST  # imported here, not at the top: torchvision loads slowly

        return tuple(FashionMNIST.classes)
    return tuple(str(i) for i in range(info.classes))


def check_images(images, channels: int | None = None, size: int | None = None, name: str = "images") -> None:
    """Raise ValueError unless ``images`` is a float tensor in [0, 1] shaped (N, C, H, W).

    ``channels`` and ``size`` (H = W), when given, must match too. Each message
    names the problem and the fix.
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(images).__name__}; use torch.as_tensor(...)")
    if images.dim() != 4:
        raise ValueError(
            f"{name} must have shape (N, C, H, W), got {tuple(images.shape)}; "
            "add a batch axis with images.unsqueeze(0) for one image"
        )
    if not images.is_floating_point():
        raise ValueError(
            f"{name} must be floating point in [0, 1], got dtype {images.dtype}; "
            "for uint8 pixels use images.float() / 255"
        )
    if images.dtype != torch.float32:
        raise ValueError(f"{name} must be float32, got {images.dtype}; use images.float()")
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got {images.shape[1]} (shape {tuple(images.shape)})")
    if size is not None and tuple(images.shape[2:]) != (size, size):
        made_for = ", ".join(k for k, v in DATASETS.items() if v.size == size) or "another dataset"
        got = ", ".join(k for k, v in DATASETS.items() if v.size == images.shape[2]) or "no snnlab dataset"
        raise ValueError(f"{name} must be {size}x{size} pixels (this model is sized for {made_for}), got "
                         f"{images.shape[2]}x{images.shape[3]} ({got}); use models trained on your images' "
                         "dataset (snnlab.load_pretrained(name) or load_models(folder))")
    if images.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(images.shape)})")
    if torch.isnan(images).any():
        raise ValueError(f"{name} contain NaN values; check the preprocessing that produced them")
    low, high = images.min().item(), images.max().item()
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
            "snnlab models take unnormalised pixels (divide by 255, do not standardise)"
        )


def _split_indices(labels: np.ndarray, fractions=(0.6, 0.2, 0.2)) -> dict[str, np.ndarray]:
    """Seeded stratified split of indices into train / calibration / test by ``fractions``."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    train, rest = train_test_split(index, train_size=fractions[0], stratify=labels, random_state=SPLIT_SEED)
    calib_share = fractions[1] / (fractions[1] + fractions[2])
    calibration, test = train_test_split(
        rest, train_size=calib_share, stratify=labels[rest], random_state=SPLIT_SEED
    )
    return {"train": np.sort(train), "calibration": np.sort(calibration), "test": np.sort(test)}


def _load_digits(split: str):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8), pixels 0..16
    labels = digits.target.astype(np.int64)
    idx = _split_indices(labels)[split]
    return torch.from_numpy(images[idx]).unsqueeze(1), torch.from_numpy(labels[idx])  # (N, 1, 8, 8), (N,)


def _torchvision_dataset(name: str, train: bool, root: str, download: bool):
    from torchvision import datasets

    if name == "svhn":
        return datasets.SVHN(root, split="train" if train else "test", download=download)
    if name == "tiny-imagenet":
        folder = os.path.join(root, "tiny-imagenet-200", "train" if train else "val")
        if not os.path.isdir(folder):
            raise FileNotFoundError(folder)
        return datasets.ImageFolder(folder)
    cls = {
        "mnist": datasets.MNIST,
        "fashion-mnist": datasets.FashionMNIST,
        "cifar10": datasets.CIFAR10,
        "cifar100": datasets.CIFAR100,
    }[name]
    return cls(root, train=train, download=download)


DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"  # apt-get install dataset-fashion-mnist
FASHION_MNIST_FILES = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                       False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def read_idx(path: str) -> torch.Tensor:
    """An IDX file (the MNIST family's format, gzip-compressed or not) as a uint8 tensor of its shape.

    Written by hand (ten lines): torchvision's reader takes only unpacked files, Debian ships them packed.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    if len(data) < 4 or magic >> 16 != 0 or (magic >> 8) & 0xFF != 0x08:  # zero, zero, uint8, ndim
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic number {magic:#x}); "
                         "reinstall it (apt-get install --reinstall dataset-fashion-mnist)")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: {len(body)} bytes for shape {dims}; reinstall it "
                         "(apt-get install --reinstall dataset-fashion-mnist)")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).view(*dims)


def debian_fashion_mnist(train: bool, folder: str | None = None):
    """Fashion-MNIST from Debian's package as a ``torchvision.datasets.FashionMNIST`` (same items, transforms).

    None when the package's files are not in ``folder`` (default ``DEBIAN_FASHION_MNIST``).
    """
    folder = folder or DEBIAN_FASHION_MNIST
    images_file, labels_file = (os.path.join(folder, f) for f in FASHION_MNIST_FILES[train])
    if not (os.path.isfile(images_file) and os.path.isfile(labels_file)):
        return None
    from torchvision import datasets

    class DebianFashionMNIST(datasets.FashionMNIST):
        """torchvision's FashionMNIST reading Debian's packed IDX files in place (nothing unpacked to disk)."""

        def _check_legacy_exist(self):
            return False

        def _check_exists(self):
            return True

        def _load_data(self):
            images, labels = read_idx(images_file), read_idx(labels_file).long()
            if images.dim() != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
                raise ValueError(f"{images_file}: expected (N, 28, 28) images and N labels, got "
                                 f"{tuple(images.shape)} and {tuple(labels.shape)}")
            return images, labels

    return DebianFashionMNIST(folder, train=train)


def open_torchvision(name: str, train: bool, root: str | None = None, download: bool = False):
    """The torchvision dataset ``name`` (train or test part) from ``root`` (default ``~/.snnlab/data``); one
    ValueError naming the fix when its files are missing offline.

    Fashion-MNIST with no ``root`` comes from Debian's package first, when it is installed.
    """
    info = dataset_info(name)
    if name == "fashion-mnist" and root is None and not download:
        dataset = debian_fashion_mnist(train)
        if dataset is not None:
            return dataset
    root = os.path.expanduser(root or os.path.join("~", ".snnlab", "data"))
    try:
        return _torchvision_dataset(name, train, root, download)
    except (RuntimeError, FileNotFoundError, OSError) as err:
        if name == "tiny-imagenet":
            how = f"download Tiny-ImageNet and unpack it so that {root}/tiny-imagenet-200/train exists"
        elif name == "fashion-mnist":
            how = (f"install it offline with `apt-get install dataset-fashion-mnist` (files in "
                   f"{DEBIAN_FASHION_MNIST}), or pass download=True (CLI: --download) when online")
        else:
            how = f"pass download=True (CLI: --download) when online, or put the {info.source} files under {root}"
        where = f"{DEBIAN_FASHION_MNIST} or {root}" if name == "fashion-mnist" and not download else root
        raise ValueError(f"dataset {name!r} not found under {where} ({err.__class__.__name__}: {err}); {how}") from None


def _to_tensors(dataset, limit: int | None):
    """Whole torchvision dataset -> (images float (N, C, H, W) in [0, 1], labels long (N,))."""
    data = getattr(dataset, "data", None)
    if isinstance(data, torch.Tensor):  # MNIST family: (N, H, W) uint8
        images = data.unsqueeze(1)
        labels = torch.as_tensor(dataset.targets)
    elif isinstance(data, np.ndarray) and data.ndim == 4:
        # CIFAR: (N, H, W, C); SVHN: (N, C, H, W)
        images = torch.from_numpy(data)
        if images.shape[-1] in (1, 3):
            images = images.permute(0, 3, 1, 2)
        labels = torch.as_tensor(np.asarray(getattr(dataset, "targets", getattr(dataset, "labels", None))))
    else:  # ImageFolder: decode file by file
        from torchvision.transforms.functional import pil_to_tensor

        count = len(dataset) if limit is None else min(limit, len(dataset))
        pairs = [dataset[i] for i in range(count)]
        images = torch.stack([pil_to_tensor(img.convert("RGB")) for img, _ in pairs])
        labels = torch.tensor([y for _, y in pairs])
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.float().div(255.0).contiguous(), labels.long()


def load_dataset(name: str = "digits", split: str = "test", root: str | None = None,
                 download: bool = False, limit: int | None = None, device="cpu"):
    """Load a dataset split as ``(images (N, C, H, W) float32 in [0, 1], labels (N,) long)``.

    Args:
        name: 'digits' (default, embedded), 'mnist', 'fashion-mnist', 'cifar10',
            'cifar100', 'svhn' or 'tiny-imagenet'.
        split: 'train', 'calibration' (held out to calibrate the detector) or 'test'.
        root: folder holding torchvision data (default ``~/.snnlab/data``); unused for digits.
        download: let torchvision download the files (needs internet).
        limit: keep only the first ``limit`` examples of the split.
        device: where the tensors go (default the CPU; ``"auto"`` or the models' device to compute there).

    Example::

        >>> images, labels = load_dataset("digits", "test")
        >>> images.shape, labels.shape
        (torch.Size([360, 1, 8, 8]), torch.Size([360]))
    """
    device = resolve_device(device)
    images, labels = _load_split(name, split, root, download, limit)
    return images.to(device), labels.to(device)


def _load_split(name, split, root, download, limit):
    dataset_info(name)  # a ValueError naming the choices for an unknown name
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of examples, got {limit}")
    if name == "digits":
        images, labels = _load_digits(split)
        return (images[:limit], labels[:limit]) if limit else (images, labels)

    dataset = open_torchvision(name, split != "test", root, download)
    if split == "test":
        return _to_tensors(dataset, limit)
    images, labels = _to_tensors(dataset, None)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    held_out = len(labels) // 10
    idx = order[:held_out] if split == "calibration" else order[held_out:]
    idx = idx.sort().values[:limit]
    return images[idx], labels[idx]
