"""Keras's fashion_mnist, cifar10 and cifar100: read from Keras's cache, fetched when online."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.data.dataset import Dataset, label_array
from benchmark.data.sources import Request, register
from benchmark.errors import BenchmarkError

log = logging.getLogger(__name__)

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR100_CLASSES = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
    butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch
    crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
    keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
    mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
    porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper
    snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
    tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
)  # the fine labels, in label order

# Where keras.datasets keeps each dataset under $KERAS_HOME/datasets (see keras get_file):
# fashion_mnist as four .gz files, the CIFARs as the folder their archive extracts to.
KERAS_PLACES = {
    "fashion_mnist": "fashion-mnist",
    "cifar10": "cifar-10-batches-py-target/cifar-10-batches-py",
    "cifar100": "cifar-100-python-target/cifar-100-python",
}
CIFAR_FILES = {
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    "cifar100": (["train"], ["test"], "fine_labels"),
}


def keras_datasets_dir() -> Path:
    """Where keras.utils.get_file keeps datasets: <Keras home>/datasets.

    Keras reads $KERAS_HOME (else ~/.keras) once, when it is imported, and get_file falls back
    to /tmp/.keras when that folder is not writable (or does not exist yet).
    """
    from keras.src.backend.config import keras_home

    home = os.path.expanduser(keras_home())
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(home) / "datasets"


def _fetch(name: str, load_data: Callable[[], tuple]) -> tuple[np.ndarray, ...]:
    """keras.datasets.<name>.load_data(); one line saying where Keras looks when it fails."""
    printed = io.StringIO()  # Keras prints "Downloading data from ..." even when offline
    try:
        with contextlib.redirect_stdout(printed):
            (x_train, y_train), (x_test, y_test) = load_data()
    except Exception as error:  # offline, a refused download or a half-written file
        log.debug(f"data: keras: {name}: {' '.join(str(error).split())}")
        place = keras_datasets_dir() / KERAS_PLACES[name]
        raise BenchmarkError(f"cannot fetch {name}; Keras looks for it at {place}") from None
    finally:
        for line in printed.getvalue().splitlines():
            if line.strip():
                log.debug(f"data: keras: {line.strip()}")
    return x_train, y_train, x_test, y_test


def _read_cifar(name: str, folder: Path) -> tuple[np.ndarray, ...]:
    """The CIFAR batches Keras extracted, read as keras.datasets does (no archive needed)."""
    from keras.src.datasets.cifar import load_batch

    train_files, test_files, label_key = CIFAR_FILES[name]
    parts = []
    for files in (train_files, test_files):
        batches = [load_batch(str(folder / file), label_key=label_key) for file in files]
        images = np.concatenate([data for data, _ in batches]).transpose(0, 2, 3, 1)
        labels = np.concatenate([np.asarray(labels) for _, labels in batches])
        parts += [images.astype(np.uint8), labels]
    return tuple(parts)


def _load(name: str, class_names: tuple[str, ...]) -> Dataset:
    import keras

    folder = keras_datasets_dir() / KERAS_PLACES[name]
    if name in CIFAR_FILES and all(
        (folder / file).is_file() for files in CIFAR_FILES[name][:2] for file in files
    ):
        try:
            x_train, y_train, x_test, y_test = _read_cifar(name, folder)
        except (OSError, ValueError, KeyError, pickle.UnpicklingError) as error:
            reason = " ".join(str(error).split())[:160]
            raise BenchmarkError(f"cannot read {name} from {folder} ({reason})") from None
    else:
        loader = getattr(keras.datasets, name).load_data
        x_train, y_train, x_test, y_test = _fetch(name, loader)
    if x_train.ndim == 3:  # fashion_mnist is N x 28 x 28
        x_train, x_test = x_train[..., np.newaxis], x_test[..., np.newaxis]
    classes = len(class_names)
    return Dataset(
        name=name,
        x_train=np.asarray(x_train, dtype=np.uint8),
        y_train=label_array(np.ravel(y_train), classes),
        x_test=np.asarray(x_test, dtype=np.uint8),
        y_test=label_array(np.ravel(y_test), classes),
        class_names=class_names,
    )


@register("fashion_mnist")
def load_fashion_mnist(request: Request) -> Dataset:
    """Zalando's 28x28 grey clothing images, 10 classes."""
    return _load("fashion_mnist", FASHION_CLASSES)


@register("cifar10")
def load_cifar10(request: Request) -> Dataset:
    """32x32 colour photos, 10 classes."""
    return _load("cifar10", CIFAR10_CLASSES)


@register("cifar100")
def load_cifar100(request: Request) -> Dataset:
    """32x32 colour photos, 100 fine classes."""
    return _load("cifar100", CIFAR100_CLASSES)
