"""Training budgets in images seen: an architecture's `epochs` are epochs of MNIST's training split.

An architecture's DEFAULTS give its budget as `epochs` of MNIST's 54,000 training images (with
the validation split carved out). On a dataset of N training images the same budget, the same
number of images seen and so of optimizer steps, is `epochs x 54,000 / N` passes over the data,
rounded up: on MNIST exactly the DEFAULTS' epochs, on scikit-learn's 1,293 `digits` training
images 42 times as many. Early stopping's patience follows the same scale, and the learning-rate
schedule follows the epochs (it is laid over all the planned steps). An explicit `--epochs N` or a
named protocol (`--params notebook`) is a number of passes over whatever data, not a budget.
"""

from __future__ import annotations

import math
from typing import Any

REFERENCE_TRAIN_IMAGES = 54_000  # one budget epoch: MNIST's training split after validation
# At most this many passes over a small dataset: past it a pass costs more in fixed per-epoch
# work (the validation pass, callbacks) than its few steps give, and the net has long seen every
# image hundreds of times. 200 passes over 1,293 digits are 2,200 steps of 128 images.
MAX_SCALED_EPOCHS = 200


def scaled_epochs(epochs: int, train_size: int) -> int:
    """Passes over `train_size` images that see `epochs` x 54,000 images, rounded up, capped."""
    if train_size <= 0:
        raise ValueError(f"train_size must be positive, got {train_size}")
    passes = math.ceil(epochs * REFERENCE_TRAIN_IMAGES / train_size)
    return max(1, min(passes, max(MAX_SCALED_EPOCHS, epochs)))


def scaled(params: dict[str, Any], train_size: int) -> dict[str, Any]:
    """`params` with epochs and patience spread over `train_size` images; the same on MNIST.

    Patience is scaled like the epochs: it counts epochs too.
    """
    epochs = scaled_epochs(int(params["epochs"]), train_size)
    patience = scaled_epochs(int(params["patience"]), train_size)
    return {**params, "epochs": epochs, "patience": patience}
