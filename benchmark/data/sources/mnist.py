"""MNIST: the verified loader of benchmark.data.mnist, its digests and cache unchanged."""

from __future__ import annotations

import numpy as np

from benchmark.data import mnist
from benchmark.data.dataset import Dataset
from benchmark.data.sources import Request, register
from benchmark.settings.defaults import MNIST_CLASSES


@register("mnist")
def load(request: Request) -> Dataset:
    """60,000 training and 10,000 test 28x28 grey digits, checked against published hashes."""
    x_train, y_train, x_test, y_test = mnist.load_mnist(request.cache_dir)
    return Dataset(
        name="mnist",
        x_train=x_train[..., np.newaxis],  # a view: the bytes, and so the digest, are unchanged
        y_train=y_train,
        x_test=x_test[..., np.newaxis],
        y_test=y_test,
        class_names=tuple(str(digit) for digit in range(MNIST_CLASSES)),
    )
