"""Training recipes for the seed paper's datasets, for the streamed path (``snnlab train --stream``).

    >>> from snnlab.training.recipes import recipe
    >>> recipe("cifar10").classifier.epochs, recipe("cifar10").network.steps
    (110, 4)

The classifier follows the CIFAR-10 training script of the MLF DS-ResNet code (Feng et al., IJCAI 2022,
github.com/langfengQ/MLF-DSResNet, ``train_for_cifar10.py`` and ``spike_layer_for_cifar10.py``): 110
epochs, batch 64, SGD with momentum 0.9 and weight decay 1e-4, learning rate 0.1 divided by 10 every 40
epochs, T = 4 time steps, ResNet-20 (3 blocks per stage, 64/128/256 channels), random crop with 4 pixels
of padding and a horizontal flip, no gradient clipping, no mixed precision. That code has no recipe for
CIFAR-100, SVHN or Tiny-ImageNet; for them the CIFAR-10 settings are kept, with the changes
:data:`RECIPES` names in ``ours``. The purifier's 75 epochs are the seed paper's (Chen & Xu, arXiv
2404.17092: "FGSM-based generation, 75 epochs for purification"); its optimizer, batch and eps range are
snnlab's (the paper's text available here gives none).

Departures from the MLF code, everywhere: our classifier has Squeeze-and-Excitation (the seed paper's)
and takes pixels in [0, 1] without mean/std normalisation (the attacks' threat model is in pixel units;
the first conv and BatchNorm absorb the shift); bf16 autocast on GPUs that support it.

Fashion-MNIST's recipe is snnlab's own, sized for 2 CPU cores (issue 20) and run in memory by
``snnlab train --dataset fashion-mnist``; its figures are in the run's manifest once it finishes. No
accuracy figure is claimed for the other recipes: none has been run to the end on the real data in snnlab.
The expected time per epoch comes from ``benchmarks/scaling.py`` (the book's "Scaling up" page, book/scaling.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..data.datasets import dataset_info
from ..data.loaders import NO_FLIP
from ..models.classifier import ClassifierConfig
from ..purifiers.snn import PurifierConfig
from .trainers import ClassifierTraining, PurifierTraining

MLF_CODE = "MLF DS-ResNet code, train_for_cifar10.py / spike_layer_for_cifar10.py / ResNet_for_cifar10.py"
SEED = "Chen & Xu, arXiv 2404.17092"


@dataclass(frozen=True)
class Recipe:
    dataset: str
    classifier: ClassifierTraining  # epochs, global batch, optimizer, lr and schedule
    network: ClassifierConfig  # time steps, widths, blocks
    purifier: PurifierTraining
    purifier_network: PurifierConfig
    clip: float | None = None  # gradient-norm clipping; the MLF code has none
    flip: bool = True  # horizontal flips in the augmentation (snnlab.data.loaders applies it)
    train_images: int = 0  # the train split after snnlab holds out 10% for calibration
    sources: dict = field(default_factory=dict)  # setting -> where its value comes from
    ours: tuple = ()  # what snnlab chose where no source gives a value


def _classifier() -> ClassifierTraining:
    return ClassifierTraining(epochs=110, batch_size=64, lr=0.1, weight_decay=1e-4, optimizer="sgd", momentum=0.9,
                              schedule="step", step_epochs=40)


def _make(dataset: str, train_images: int, ours: tuple = ()) -> Recipe:
    network = ClassifierConfig.for_dataset(dataset)  # ResNet-20 widths 64/128/256, 3 blocks, T = 4
    return Recipe(dataset, _classifier(), network, PurifierTraining(epochs=75, batch_size=64),
                  PurifierConfig.for_dataset(dataset), flip=dataset not in NO_FLIP, train_images=train_images,
                  sources={"classifier": MLF_CODE, "time steps and widths": MLF_CODE,
                           "augmentation": MLF_CODE, "purifier epochs": SEED},
                  ours=("Squeeze-and-Excitation (the seed paper's classifier)",
                        "no input normalisation", "purifier: AdamW, lr 2e-3, batch 64, eps in [0.05, 0.3]") + ours)


def _fashion_mnist() -> Recipe:
    """Fashion-MNIST, chosen for 2 CPU cores and trained in memory (``snnlab train``), not from the MLF code."""
    return Recipe("fashion-mnist", ClassifierTraining(epochs=15, batch_size=64),
                  ClassifierConfig.for_dataset("fashion-mnist"), PurifierTraining(epochs=10, batch_size=64),
                  PurifierConfig.for_dataset("fashion-mnist"), flip=True, train_images=54_000,
                  sources={"purifier loss, FGSM training data": SEED},
                  ours=("lean 32/64/128 classifier, one block per stage, T = 4 (0.32 M parameters)",
                        "AdamW, lr 2e-3 cosine to 0, batch 64, 15 classifier epochs, no augmentation",
                        "purifier at the digits widths (16), U-Net 2 levels deep (28 -> 14 -> 7), 10 epochs",
                        "purifier: AdamW, lr 2e-3, batch 64, eps in [0.05, 0.3]"))


RECIPES = {
    "fashion-mnist": _fashion_mnist(),
    "cifar10": _make("cifar10", 45_000),
    "cifar100": _make("cifar100", 45_000, ours=("the CIFAR-10 recipe with 100 classes",)),
    "svhn": _make("svhn", 65_932,
                  ours=("the CIFAR-10 recipe; no horizontal flip (a flipped digit is another glyph)",)),
    "tiny-imagenet": _make("tiny-imagenet", 90_000,
                           ours=("the CIFAR-10 recipe at 64x64: crop padding 8, 200 classes",)),
}


def recipe(dataset: str) -> Recipe:
    """The recipe for ``dataset`` (a copy: changing it changes nothing here); ValueError naming the choices."""
    dataset_info(dataset)  # an unknown name gets the usual message
    if dataset not in RECIPES:
        raise ValueError(f"no training recipe for {dataset!r}; recipes exist for {', '.join(RECIPES)}; "
                         "the 8x8 digits train in memory with `snnlab train` and the defaults")
    r = RECIPES[dataset]
    return replace(r, classifier=replace(r.classifier), purifier=replace(r.purifier),
                   network=replace(r.network, stages=list(r.network.stages)),
                   purifier_network=replace(r.purifier_network))
