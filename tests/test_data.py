import pytest
import torch

from snnlab.data import check_images, dataset_info, load_dataset


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

    from snnlab.data import _split_indices

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
