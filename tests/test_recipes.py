"""The per-dataset training recipes of the streamed path, and the optimizer settings they need."""
import pytest
import torch

from snnlab.training.engine import optimizer_for
from snnlab.training.recipes import RECIPES, recipe
from snnlab.training.trainers import ClassifierTraining


def test_every_paper_dataset_has_a_recipe_that_builds_its_networks():
    from snnlab.data.datasets import dataset_info
    from snnlab.models.classifier import SpikingResNet
    from snnlab.purifiers.snn import Purifier

    assert set(RECIPES) == {"fashion-mnist", "cifar10", "cifar100", "svhn", "tiny-imagenet"}
    for name, plan in RECIPES.items():
        info = dataset_info(name)
        assert plan.network.classes == info.classes and plan.network.image_size == info.size
        assert plan.purifier_network.image_size == info.size and plan.sources and plan.ours
        x = torch.rand(1, info.channels, info.size, info.size)
        assert SpikingResNet(plan.network).eval()(x).shape == (1, info.classes)
        assert Purifier(plan.purifier_network).eval()(x).shape == x.shape


def test_the_step_schedule_divides_the_learning_rate_by_ten_every_step_epochs():
    settings = recipe("cifar10").classifier
    assert settings.optimizer == "sgd" and settings.schedule == "step" and settings.lr == 0.1
    optimizer, scheduler = optimizer_for(torch.nn.Linear(2, 2), settings, steps_per_epoch=3)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    rates = []
    for _ in range(settings.epochs * 3):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.1) and rates[40 * 3 - 1] == pytest.approx(0.1)
    assert rates[40 * 3] == pytest.approx(0.01) and rates[80 * 3] == pytest.approx(0.001)
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'; choose 'adamw', 'adam' or 'sgd'"):
        optimizer_for(torch.nn.Linear(2, 2), ClassifierTraining(optimizer="lamb"), 3)
    with pytest.raises(ValueError, match="unknown schedule"):
        optimizer_for(torch.nn.Linear(2, 2), ClassifierTraining(schedule="linear"), 3)


def test_recipe_returns_a_copy_and_names_the_choices():
    plan = recipe("svhn")
    plan.classifier.epochs, plan.network.stages[0] = 1, 7
    assert recipe("svhn").classifier.epochs == 110 and recipe("svhn").network.stages[0] == 64
    assert not plan.flip and recipe("cifar10").flip
    with pytest.raises(ValueError,
                       match="recipes exist for fashion-mnist, cifar10, cifar100, svhn, tiny-imagenet; the 8x8 digits"):
        recipe("digits")
    with pytest.raises(ValueError, match="unknown dataset"):
        recipe("imagenet")


def test_svhn_is_not_flipped_and_cifar_is():
    from torchvision import transforms

    from snnlab.data.loaders import augmentation

    def kinds(t):
        return [type(step) for step in t.transforms]

    assert transforms.RandomHorizontalFlip in kinds(augmentation(32, True))
    assert transforms.RandomHorizontalFlip not in kinds(augmentation(32, True, flip=False))
    assert transforms.RandomCrop in kinds(augmentation(32, True, flip=False))


def test_fashion_mnist_recipe_is_sized_for_two_cores_with_a_two_level_unet():
    from snnlab.models.classifier import SpikingResNet
    from snnlab.purifiers.snn import Purifier, unet_depth

    plan = recipe("fashion-mnist")
    assert plan.network.stages == [32, 64, 128] and plan.network.blocks == 1 and plan.network.steps == 4
    assert sum(p.numel() for p in SpikingResNet(plan.network).parameters()) < 400_000
    assert unet_depth(plan.purifier_network.image_size) == 2
    assert sum(p.numel() for p in Purifier(plan.purifier_network).parameters()) < 1_000_000


def test_the_fashion_mnist_recipe_is_the_one_the_shipped_models_were_trained_with():
    """The recipe "as used": its settings and networks are those the shipped Fashion-MNIST run recorded (its
    request.json, and each checkpoint's config)."""
    import json
    import os
    from dataclasses import asdict

    from snnlab.pretrained import pretrained_folder
    from snnlab.runs.checkpoints import load_checkpoint

    folder = pretrained_folder("fashion-mnist")
    with open(os.path.join(folder, "request.json")) as f:
        used = json.load(f)
    plan = recipe("fashion-mnist")
    for kind, settings in (("classifier", plan.classifier), ("purifier", plan.purifier)):
        mine = json.loads(json.dumps({k: v for k, v in asdict(settings).items() if k != "seed"}))
        assert mine == used[f"{kind}_training"], kind
    assert load_checkpoint(os.path.join(folder, "classifier.pt"))["config"] == asdict(plan.network)
    assert load_checkpoint(os.path.join(folder, "purifier.pt"))["config"] == asdict(plan.purifier_network)
    assert plan.train_images == 54_000 and used["dataset"] == "fashion-mnist"
