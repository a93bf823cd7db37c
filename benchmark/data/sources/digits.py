"""scikit-learn's bundled digits: 1,797 8x8 grey digits, offline; a stratified test split."""

from __future__ import annotations

import numpy as np

from benchmark.data.dataset import Dataset, hold_out_test, label_array
from benchmark.data.sources import Request, register

DIGITS_LEVELS = 16  # load_digits counts ink in 4x4 blocks of a 32x32 bitmap: 0..16


@register("digits")
def load(request: Request) -> Dataset:
    """The 8x8 digits scaled to 0..255, 20% held out for test (stratified, fixed seed)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / DIGITS_LEVELS)).astype(np.uint8)[..., np.newaxis]
    labels = label_array(bunch.target, 10)
    x_train, y_train, x_test, y_test, how = hold_out_test(images, labels)
    return Dataset(
        name="digits",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=tuple(str(digit) for digit in range(10)),
        test_split=how,
    )
