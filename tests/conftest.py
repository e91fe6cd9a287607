import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits_test():
    from snnlab import load_dataset

    return load_dataset("digits", "test")


@pytest.fixture(scope="session")
def pretrained():
    from snnlab import load_pretrained

    return load_pretrained("digits", with_substitute=True)
