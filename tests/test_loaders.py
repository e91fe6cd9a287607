"""The DataLoader path: streamed datasets with augmentation, sharded per process, clear errors offline."""
import pytest
import torch

from snnlab.data.loaders import augmentation, image_dataset, make_loader


@pytest.mark.parametrize("name, shape", [("fake-cifar10", (3, 32, 32)), ("fake-tiny-imagenet", (3, 64, 64))])
def test_fake_datasets_stream_images_in_the_snnlab_contract(name, shape):
    from snnlab.data.datasets import check_images

    train, test = image_dataset(name, "train"), image_dataset(name, "test")
    calibration = image_dataset(name, "calibration")
    assert len(calibration) == (len(train) + len(calibration)) // 10
    loader = make_loader(train, batch_size=8, seed=0)
    images, labels = next(iter(loader))
    assert images.shape == (8, *shape) and labels.dtype == torch.long
    check_images(images, shape[0], shape[1])
    x, _ = test[0]
    assert x.shape == shape and torch.equal(x, test[0][0])  # no augmentation on the test split


def test_augmentation_only_on_the_train_split_of_32_and_64_pixel_data():
    from torchvision import transforms

    def kinds(t):
        return [type(step) for step in t.transforms]

    assert transforms.RandomCrop in kinds(augmentation(32, train=True))
    assert transforms.RandomHorizontalFlip in kinds(augmentation(64, train=True))
    assert augmentation(64, train=True).transforms[0].padding == 8
    assert kinds(augmentation(32, train=False)) == [transforms.ToTensor]
    assert kinds(augmentation(28, train=True)) == [transforms.ToTensor]  # none for MNIST-sized data


def test_shards_split_one_shuffled_order_between_processes():
    data = image_dataset("fake-cifar10", "train", augment=False)
    whole = [i for i in iter(make_loader(data, 4, seed=3).sampler)]
    shards = [list(iter(make_loader(data, 2, seed=3, rank=r, world=2).sampler)) for r in (0, 1)]
    assert sorted(shards[0] + shards[1]) == sorted(whole[:len(shards[0]) * 2])
    assert not set(shards[0]) & set(shards[1])


def test_missing_dataset_offline_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not found under .*pass download=True"):
        image_dataset("cifar10", "train", root=str(tmp_path))
    with pytest.raises(ValueError, match="tiny-imagenet-200/train exists"):
        image_dataset("tiny-imagenet", "test", root=str(tmp_path))
    with pytest.raises(ValueError, match="load it whole|small enough"):
        image_dataset("digits")
    with pytest.raises(ValueError, match="unknown split"):
        image_dataset("fake-cifar10", "val")
