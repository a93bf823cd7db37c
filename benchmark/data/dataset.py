"""What every data source returns: uint8 images N x H x W x C, int labels, class names, digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from benchmark.errors import BenchmarkError
from benchmark.settings import SPLIT_SEED

TEST_FRACTION = 0.2  # of a dataset without its own test split, held out (stratified) for test
KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    """Train and test images (uint8, N x H x W x C) and labels (0..classes-1), with provenance."""

    name: str  # mnist, digits, ... or the folder's or .npz file's name
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    test_split: str = "given"  # or how the test set was held out, e.g. "held out 20% ..."

    @property
    def digest(self) -> str:
        """SHA-256 over the four arrays' bytes (for MNIST the digest it has always had)."""
        return array_digest(self.x_train, self.y_train, self.x_test, self.y_test)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Height, width, channels of one image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]


def array_digest(*arrays: np.ndarray) -> str:
    """SHA-256 hex over the arrays' bytes in order (shape-free: grey N,H,W,1 = N,H,W)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def label_array(labels: np.ndarray, classes: int) -> np.ndarray:
    """Labels as uint8 (as MNIST has them) when they fit, else int32."""
    return np.asarray(labels).astype(np.uint8 if classes <= 256 else np.int32)


def hold_out_test(
    images: np.ndarray, labels: np.ndarray, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Split off a stratified TEST_FRACTION as the test set; say how, to record it."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    try:
        train, test = train_test_split(
            indices, test_size=TEST_FRACTION, stratify=labels, random_state=seed
        )
    except ValueError as error:
        raise BenchmarkError(
            f"cannot hold out a stratified {TEST_FRACTION:.0%} test split ({error}); each class "
            "needs at least 5 images"
        ) from None
    train, test = np.sort(train), np.sort(test)
    how = f"held out {TEST_FRACTION:.0%} stratified, seed {seed}"
    return images[train], labels[train], images[test], labels[test], how


def check_dataset(data: Dataset) -> Dataset:
    """Refuse arrays a model cannot train on; one line that says what is wrong."""
    classes = len(data.class_names)
    for split in ("train", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise BenchmarkError(
                f"{data.name}: x_{split} must be uint8 images N x H x W (x 1 or 3), got "
                f"{x.dtype} {x.shape}"
            )
        if len(x) != len(y) or len(x) == 0:
            raise BenchmarkError(
                f"{data.name}: x_{split} has {len(x)} images but y_{split} {len(y)} labels"
            )
        if y.min() < 0 or y.max() >= classes:
            raise BenchmarkError(
                f"{data.name}: y_{split} has labels {int(y.min())}..{int(y.max())}, outside "
                f"0..{classes - 1} for {classes} classes"
            )
    if data.x_train.shape[1:] != data.x_test.shape[1:]:
        raise BenchmarkError(
            f"{data.name}: train images are {data.x_train.shape[1:]}, test images "
            f"{data.x_test.shape[1:]}; they must be the same size"
        )
    if classes < 2 or len(np.unique(data.y_train)) < 2:
        raise BenchmarkError(f"{data.name}: needs at least two classes to compare classifiers")
    return data
