"""Tests for benchmark.data: train/validation/test splits, subsets and model input."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pytest

from benchmark.data.splits import Splits, load_splits, make_splits, to_model_input
from benchmark.errors import BenchmarkError

if TYPE_CHECKING:  # only the annotations use it; pytest supplies the `mnist` fixture
    from tests.conftest import Loaded


@pytest.fixture(scope="module")
def full_splits(mnist: Loaded) -> Splits:
    return make_splits(*mnist.arrays)


# --- splits -------------------------------------------------------------------------------


def class_fractions(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels, minlength=10) / len(labels)


def test_full_split_sizes_and_properties(full_splits: Splits) -> None:
    assert full_splits.sizes == {"train_size": 54000, "val_size": 6000, "test_size": 10000}
    assert full_splits.num_classes == 10
    assert full_splits.input_shape == (28, 28, 1)
    assert full_splits.dataset == "mnist"
    assert len(full_splits.digest) == 12 and int(full_splits.digest, 16) >= 0


def test_full_split_is_disjoint_and_covers_training_set(mnist: Loaded, full_splits: Splits) -> None:
    x_train, y_train, x_test, y_test = mnist.arrays
    train, val = full_splits.train_indices, full_splits.val_indices
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(60000))
    np.testing.assert_array_equal(full_splits.x_train, x_train[train])
    np.testing.assert_array_equal(full_splits.y_val, y_train[val])
    np.testing.assert_array_equal(full_splits.x_test, x_test)
    np.testing.assert_array_equal(full_splits.y_test, y_test)


def test_full_split_is_stratified(mnist: Loaded, full_splits: Splits) -> None:
    overall = class_fractions(mnist.arrays[1])
    np.testing.assert_allclose(class_fractions(full_splits.y_val), overall, atol=0.001)
    np.testing.assert_allclose(class_fractions(full_splits.y_train), overall, atol=0.001)


def test_split_depends_on_seed_only(mnist: Loaded, full_splits: Splits) -> None:
    again = make_splits(*mnist.arrays, seed=0)
    np.testing.assert_array_equal(again.val_indices, full_splits.val_indices)
    other = make_splits(*mnist.arrays, seed=1)
    assert not np.array_equal(other.val_indices, full_splits.val_indices)
    assert other.digest == full_splits.digest  # same data, same digest


def test_subset_split(mnist: Loaded, full_splits: Splits) -> None:
    x_train, y_train, x_test, y_test = mnist.arrays
    splits = make_splits(*mnist.arrays, subset=1000)
    assert splits.sizes == {"train_size": 1000, "val_size": 100, "test_size": 500}
    # The subset comes from the same held-out split as the full run, so nothing leaks.
    assert np.isin(splits.train_indices, full_splits.train_indices).all()
    assert np.isin(splits.val_indices, full_splits.val_indices).all()
    np.testing.assert_array_equal(splits.x_train, x_train[splits.train_indices])
    np.testing.assert_array_equal(splits.y_val, y_train[splits.val_indices])
    # Test images come from the test set only: every one matches some test image.
    test_rows = {row.tobytes() for row in x_test}
    assert all(image.tobytes() in test_rows for image in splits.x_test)
    for labels, n in ((splits.y_train, 1000), (splits.y_val, 100), (splits.y_test, 500)):
        expected = class_fractions(y_train if n != 500 else y_test) * n
        assert np.abs(np.bincount(labels, minlength=10) - expected).max() <= 1
    assert splits.num_classes == 10 and splits.digest == full_splits.digest


def test_subset_sizes_follow_documented_rule(mnist: Loaded) -> None:
    small = make_splits(*mnist.arrays, subset=20, validation_fraction=0.2)
    assert small.sizes == {"train_size": 20, "val_size": 100, "test_size": 100}
    big = make_splits(*mnist.arrays, subset=30000, validation_fraction=0.2)
    assert big.sizes == {"train_size": 30000, "val_size": 6000, "test_size": 10000}
    everything = make_splits(*mnist.arrays, subset=54000)
    assert everything.sizes == {"train_size": 54000, "val_size": 5400, "test_size": 10000}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subset": 0},
        {"subset": -5},
        {"subset": 54001},
        {"subset": 5},  # fewer images than classes cannot be stratified
        {"subset": 100.0},
        {"subset": True},
        {"validation_fraction": 0},
        {"validation_fraction": 1},
        {"validation_fraction": 1.5},
    ],
)
def test_bad_arguments_raise(mnist: Loaded, kwargs: dict) -> None:
    with pytest.raises(BenchmarkError):
        make_splits(*mnist.arrays, **kwargs)


def test_digest_identifies_the_data(mnist: Loaded, full_splits: Splits) -> None:
    x_train, y_train, x_test, y_test = mnist.arrays
    changed = y_test.copy()
    changed[0] = (changed[0] + 1) % 10
    assert make_splits(x_train, y_train, x_test, changed).digest != full_splits.digest


def test_load_splits_reads_the_cache(mnist: Loaded, no_sources: None, caplog) -> None:
    caplog.set_level(logging.INFO, logger="benchmark")
    splits = load_splits(subset=200, seed=3, cache_dir=mnist.cache_dir)
    assert caplog.messages == []
    assert splits.sizes == {"train_size": 200, "val_size": 100, "test_size": 100}


# --- model input --------------------------------------------------------------------------


def test_to_model_input() -> None:
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    result = to_model_input(images)
    assert result.dtype == np.float32 and result.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(result[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]], rtol=1e-6)


def test_to_model_input_keeps_colour_channels() -> None:
    images = np.zeros((2, 8, 6, 3), dtype=np.uint8)
    assert to_model_input(images).shape == (2, 8, 6, 3)


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((2, 28, 28), dtype=np.float32),
        np.zeros((2, 28, 28, 2), dtype=np.uint8),
        np.zeros((28, 28), dtype=np.uint8),
    ],
)
def test_to_model_input_rejects_wrong_input(images: np.ndarray) -> None:
    with pytest.raises(BenchmarkError):
        to_model_input(images)
