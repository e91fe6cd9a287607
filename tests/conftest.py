import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits_test():
    from snnlab import load_dataset

    return load_dataset("digits", "test")


@pytest.fixture(scope="session")
def fashion_test():
    """Fashion-MNIST's test split from Debian's package; the test is skipped where the package is absent."""
    from snnlab import load_dataset
    from snnlab.data.datasets import debian_fashion_mnist

    if debian_fashion_mnist(train=False) is None:
        pytest.skip("apt-get install dataset-fashion-mnist (CI installs it)")
    return load_dataset("fashion-mnist", "test")


@pytest.fixture(scope="session")
def pretrained():
    from snnlab import load_pretrained

    return load_pretrained("digits", with_substitute=True)
