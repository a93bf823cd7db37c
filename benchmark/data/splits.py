"""Stratified train/validation/test splits of a dataset, and the model's input format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from benchmark.data.mnist import load_mnist
from benchmark.data.sources import Request
from benchmark.data.sources import load as load_dataset
from benchmark.errors import BenchmarkError
from benchmark.settings import SPLIT_SEED, VALIDATION_FRACTION


@dataclass(frozen=True)
class Splits:
    """Train/validation/test images and labels plus provenance.

    Images are uint8, (N, H, W) when grey (as MNIST always was) and (N, H, W, 3) in colour.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    dataset: str
    digest: str  # first 12 hex chars of SHA-256 over the full train and test data
    train_indices: np.ndarray  # into the original 60,000 training images
    val_indices: np.ndarray
    class_names: tuple[str, ...] = ()  # empty: the label numbers
    test_split: str = "given"  # or how the test set was held out from the data

    @property
    def sizes(self) -> dict[str, int]:
        """Number of images in each split."""
        return {
            "train_size": len(self.y_train),
            "val_size": len(self.y_val),
            "test_size": len(self.y_test),
        }

    @property
    def num_classes(self) -> int:
        """Number of label classes: the class names, or the largest label + 1."""
        largest = int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1
        return max(len(self.class_names), largest)

    @property
    def names(self) -> tuple[str, ...]:
        """A name for each class, the label numbers when the data has none."""
        return self.class_names or tuple(str(label) for label in range(self.num_classes))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one model input, channels last."""
        channels = self.x_train.shape[3] if self.x_train.ndim == 4 else 1
        return (*self.x_train.shape[1:3], channels)


def _stratified_take(indices: np.ndarray, labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Return a sorted stratified sample of n of `indices` (all of them if n >= len)."""
    if n >= len(indices):
        return np.sort(indices)
    taken, _ = train_test_split(indices, train_size=n, stratify=labels[indices], random_state=seed)
    return np.sort(taken)


def make_splits(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    validation_fraction: float = VALIDATION_FRACTION,
    seed: int = SPLIT_SEED,
    subset: int | None = None,
    dataset: str = "mnist",
    class_names: tuple[str, ...] = (),
    test_split: str = "given",
) -> Splits:
    """Carve a stratified validation set from the training images; optionally a stratified training subset of `subset` images.

    Without `subset`, the validation set is `validation_fraction` of the training images and the
    test set is the whole test set. With `subset=N` (for fast smoke runs) the training set is a
    stratified N of the remaining training images, the validation set a stratified
    max(10 * num_classes, round(N * validation_fraction)) of the held-out validation images,
    and the test set a stratified max(100, N // 2) of the test images (at most all of them).
    """  # noqa: E501
    if not 0 < validation_fraction < 1:
        raise BenchmarkError(
            f"validation_fraction must be between 0 and 1, got {validation_fraction}"
        )
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise BenchmarkError("images and labels differ in length")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    digest = hashlib.sha256()
    for array in (x_train, y_train, x_test, y_test):
        digest.update(np.ascontiguousarray(array).tobytes())

    if x_train.ndim == 4 and x_train.shape[3] == 1:  # grey: (N, H, W), the same bytes
        x_train, x_test = x_train[..., 0], x_test[..., 0]
    all_indices = np.arange(len(y_train))
    try:
        train_idx, val_idx = train_test_split(
            all_indices, test_size=validation_fraction, stratify=y_train, random_state=seed
        )
    except ValueError as error:  # a class with a single training image, say
        raise BenchmarkError(
            f"cannot carve a stratified validation split from {len(y_train)} training images "
            f"({error}); every class needs a few training images"
        ) from None
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)
    test_idx = np.arange(len(y_test))
    if subset is not None:
        # bool is an int subclass; subset=True is surely a mistake.
        if isinstance(subset, bool) or not isinstance(subset, int | np.integer):
            raise BenchmarkError(f"subset must be a whole number, got {subset!r}")
        if not num_classes <= subset <= len(train_idx):
            raise BenchmarkError(
                f"subset must be between {num_classes} (one image per class) and {len(train_idx)} "
                f"(training images left after the validation split), got {subset}"
            )
        n_val = max(10 * num_classes, round(subset * validation_fraction))
        train_idx = _stratified_take(train_idx, y_train, subset, seed)
        val_idx = _stratified_take(val_idx, y_train, n_val, seed)
        test_idx = _stratified_take(test_idx, y_test, max(100, subset // 2), seed)

    return Splits(
        x_train=x_train[train_idx],
        y_train=y_train[train_idx],
        x_val=x_train[val_idx],
        y_val=y_train[val_idx],
        x_test=x_test[test_idx],
        y_test=y_test[test_idx],
        dataset=dataset,
        digest=digest.hexdigest()[:12],
        train_indices=train_idx,
        val_indices=val_idx,
        class_names=tuple(class_names),
        test_split=test_split,
    )


def load_splits(
    validation_fraction: float = VALIDATION_FRACTION,
    seed: int = SPLIT_SEED,
    subset: int | None = None,
    cache_dir: Path | None = None,
    request: Request | None = None,
) -> Splits:
    """Load a dataset (verified MNIST by default) and split it (see make_splits)."""
    if request is None:
        x_train, y_train, x_test, y_test = load_mnist(cache_dir)
        return make_splits(
            x_train, y_train, x_test, y_test, validation_fraction, seed, subset, "mnist",
            tuple(str(digit) for digit in range(10)),
        )  # fmt: skip
    data = load_dataset(request)
    return make_splits(
        data.x_train, data.y_train, data.x_test, data.y_test, validation_fraction, seed, subset,
        data.name, data.class_names, data.test_split,
    )  # fmt: skip


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N,H,W) or (N,H,W,C) -> float32 (N,H,W,C) scaled to [0,1] (divide by 255)."""
    # Refuse floats: scaling already-scaled images would silently shrink them again.
    channels_ok = images.ndim == 3 or (images.ndim == 4 and images.shape[3] in (1, 3))
    if images.dtype != np.uint8 or not channels_ok:
        raise BenchmarkError(
            f"expected uint8 images of shape (N, H, W) or (N, H, W, C), got {images.dtype} "
            f"{images.shape}"
        )
    scaled = images.astype(np.float32) / np.float32(255)
    return scaled[..., np.newaxis] if images.ndim == 3 else scaled
