import pytest
import torch

from snnlab.data.datasets import check_images, dataset_info, load_dataset


def test_digits_splits_are_disjoint_stratified_and_in_range():
    parts = {s: load_dataset("digits", s) for s in ("train", "calibration", "test")}
    sizes = {s: len(y) for s, (_, y) in parts.items()}
    assert sum(sizes.values()) == 1797
    assert sizes["test"] == 360 and sizes["calibration"] == 359
    for images, labels in parts.values():
        assert images.dtype == torch.float32 and labels.dtype == torch.long
        assert images.shape[1:] == (1, 8, 8)
        assert images.min() >= 0 and images.max() <= 1
        counts = torch.bincount(labels, minlength=10).float()
        assert counts.min() / counts.max() > 0.85  # stratified: every class about equally present
    from sklearn.datasets import load_digits

    from snnlab.data.datasets import _split_indices

    idx = _split_indices(load_digits().target)
    assert not set(idx["train"]) & set(idx["test"])
    assert not set(idx["train"]) & set(idx["calibration"])
    assert not set(idx["calibration"]) & set(idx["test"])


def test_split_is_fixed():
    a, _ = load_dataset("digits", "test")
    b, _ = load_dataset("digits", "test")
    assert torch.equal(a, b)
    assert len(load_dataset("digits", "test", limit=10)[0]) == 10


@pytest.mark.parametrize("name,split,match", [
    ("imagenet", "test", "unknown dataset 'imagenet'"),
    ("digits", "validation", "unknown split"),
])
def test_bad_names(name, split, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(name, split)


@pytest.mark.parametrize("name", ["mnist", "cifar10", "svhn", "tiny-imagenet"])
def test_missing_offline_files_say_how_to_get_them(tmp_path, name):
    with pytest.raises(ValueError) as err:
        load_dataset(name, "test", root=str(tmp_path))
    message = str(err.value)
    assert "not found" in message and str(tmp_path) in message
    assert ("download=True" in message) or ("tiny-imagenet-200" in message)


def test_dataset_info():
    assert dataset_info("cifar10").channels == 3 and dataset_info("cifar10").size == 32


@pytest.mark.parametrize("bad,match", [
    (torch.rand(1, 8, 8), r"shape \(N, C, H, W\)"),
    (torch.rand(2, 3, 8, 8), "1 channel"),
    (torch.rand(2, 1, 9, 9), "8x8"),
    (torch.rand(2, 1, 8, 8) * 2, r"\[0, 1\]"),
    (torch.full((2, 1, 8, 8), float("nan")), "NaN"),
    ((torch.rand(2, 1, 8, 8) * 255).to(torch.uint8), "uint8"),
    (torch.rand(2, 1, 8, 8, dtype=torch.float64), "float32"),
    ([[0.5]], "torch.Tensor"),
    (torch.rand(0, 1, 8, 8), "empty"),
])
def test_check_images_names_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        check_images(bad, channels=1, size=8)


# --- Fashion-MNIST offline, from Debian's package ------------------------------------------------

import gzip  # noqa: E402

from snnlab.data import datasets as data_module  # noqa: E402


def test_fashion_mnist_loads_offline_from_debian_with_a_held_out_calibration_split(fashion_test):
    x, y = fashion_test
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.long
    assert 0.0 <= x.min() and x.max() <= 1.0 and y.bincount().tolist() == [1000] * 10
    train = data_module._load_split("fashion-mnist", "train", None, False, None)
    calibration = data_module._load_split("fashion-mnist", "calibration", None, False, None)
    assert len(train[1]) == 54000 and len(calibration[1]) == 6000
    # held out: no calibration image is also a training image (compare raw bytes of a few)
    seen = {bytes(img.mul(255).byte().numpy()) for img in train[0][:54000:9]}
    assert not any(bytes(img.mul(255).byte().numpy()) in seen for img in calibration[0][:200])


def test_fashion_mnist_items_and_transforms_are_torchvisions(fashion_test):
    dataset = data_module.open_torchvision("fashion-mnist", train=False)
    from torchvision import datasets, transforms

    assert isinstance(dataset, datasets.FashionMNIST) and len(dataset) == 10000
    dataset.transform = transforms.ToTensor()
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and label == 9  # the first test image is an ankle boot


def test_fashion_mnist_absent_offline_names_both_fixes(tmp_path, monkeypatch):
    from snnlab import load_dataset

    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ValueError, match=r"not found.*apt-get install dataset-fashion-mnist.*download=True") as err:
        load_dataset("fashion-mnist", "test")
    assert "\n" not in str(err.value)


def test_a_corrupt_idx_file_is_named(tmp_path):
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    with pytest.raises(ValueError, match="truncated.*reinstall"):
        data_module.read_idx(str(bad))
    with gzip.open(bad, "wb") as f:
        f.write(b"<html>not an idx file</html>")
    with pytest.raises(ValueError, match="not an IDX file"):
        data_module.read_idx(str(bad))


def test_a_model_given_another_datasets_images_names_both_and_the_fix():
    with pytest.raises(ValueError, match=r"must be 8x8 pixels \(this model is sized for digits\), got 28x28 "
                                         r"\(mnist, fashion-mnist\); use models trained on"):
        check_images(torch.rand(2, 1, 28, 28), 1, 8)
