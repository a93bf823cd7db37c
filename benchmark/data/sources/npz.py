"""An .npz file with x_train, y_train, x_test, y_test and optionally class_names."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from benchmark.data.dataset import KEYS, Dataset, label_array
from benchmark.data.sources import Request, register
from benchmark.errors import BenchmarkError
from benchmark.settings.data import safe_name


def _images(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """uint8 N x H x W x C from N x H x W (grey) or N x H x W x 1|3 whole numbers 0..255."""
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise BenchmarkError(
            f"{path.name}: {key} must be N x H x W or N x H x W x 1|3 images, got {array.shape}"
        )
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number) or not (
            np.all(array == np.rint(array)) and array.min() >= 0 and array.max() <= 255
        ):
            raise BenchmarkError(f"{path.name}: {key} must hold whole numbers 0..255 (uint8)")
        array = array.astype(np.uint8)
    return array


def _labels(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    array = np.ravel(array)
    if not np.issubdtype(array.dtype, np.integer):
        raise BenchmarkError(f"{path.name}: {key} must hold whole-number labels, got {array.dtype}")
    if len(array) and array.min() < 0:
        raise BenchmarkError(f"{path.name}: {key} has label {int(array.min())}; labels start at 0")
    return array


@register("npz")
def load(request: Request) -> Dataset:
    """Read the four arrays (never pickles); class names default to the label numbers."""
    path = Path(request.spec).expanduser()
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KEYS if key not in npz.files]
            if missing:
                raise BenchmarkError(
                    f"{path.name}: missing {', '.join(missing)}; an .npz dataset needs "
                    f"{', '.join(KEYS)} (and optionally class_names)"
                )
            arrays = {key: npz[key] for key in KEYS}
            names = npz["class_names"] if "class_names" in npz.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())
        raise BenchmarkError(f"{path.name}: not a readable .npz file ({reason})") from None
    y_train = _labels(path, "y_train", arrays["y_train"])
    y_test = _labels(path, "y_test", arrays["y_test"])
    if names is not None:
        class_names = tuple(str(name) for name in np.ravel(names))
    else:
        largest = max(int(y_train.max(initial=0)), int(y_test.max(initial=0)))
        class_names = tuple(str(label) for label in range(largest + 1))
    classes = len(class_names)
    for key, labels in (("y_train", y_train), ("y_test", y_test)):
        if len(labels) and labels.max() >= classes:
            raise BenchmarkError(
                f"{path.name}: {key} has label {int(labels.max())}, out of range for the "
                f"{classes} class_names (labels 0..{classes - 1})"
            )
    return Dataset(
        name=safe_name(path.stem),
        x_train=_images(path, "x_train", arrays["x_train"]),
        y_train=label_array(y_train, classes),
        x_test=_images(path, "x_test", arrays["x_test"]),
        y_test=label_array(y_test, classes),
        class_names=class_names,
    )
