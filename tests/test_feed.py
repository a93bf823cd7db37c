"""The tf.data pipeline fit, validation and predict read (benchmark.training.feed)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.splits import Splits
from benchmark.training import feed, runner

X = np.arange(10 * 4, dtype=np.float32).reshape(10, 2, 2, 1)
Y = np.arange(10)


def epochs(data, count: int) -> list[list[int]]:
    """The labels each pass over `data` reads, in order."""
    return [[int(label) for _, labels in data for label in labels] for _ in range(count)]


def test_each_epoch_reads_every_example_once_in_a_new_seeded_order() -> None:
    orders = epochs(feed.batches(X, Y, batch_size=4, seed=3), 3)
    assert all(sorted(order) == list(range(10)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3  # a new order every epoch
    assert epochs(feed.batches(X, Y, batch_size=4, seed=3), 3) == orders  # the same per seed
    assert epochs(feed.batches(X, Y, batch_size=4, seed=4), 1)[0] != orders[0]


def test_images_stay_with_their_labels_in_batches_of_the_size_asked() -> None:
    data = feed.batches(X, Y, batch_size=4, seed=0)
    sizes = []
    for images, labels in data:
        sizes.append(len(labels))
        np.testing.assert_array_equal(images.numpy(), X[labels.numpy()])
    assert sizes == [4, 4, 2]  # the last batch keeps the remainder


def test_without_a_seed_batches_keep_the_arrays_order_and_x_alone_when_no_labels() -> None:
    assert epochs(feed.batches(X, Y, batch_size=3), 2) == [list(range(10))] * 2
    images = np.concatenate([batch.numpy() for batch in feed.batches(X, None, batch_size=3)])
    np.testing.assert_array_equal(images, X)


def test_autotuning_is_off() -> None:
    # Keras' own pipeline for numpy arrays autotunes; ending its iterator each epoch waited
    # seconds for the autotuning threads when another process kept the cores busy.
    options = feed.batches(X, Y, batch_size=4, seed=0).options()
    assert options.autotune.enabled is False


def test_fit_trains_on_the_feed_not_on_keras_numpy_pipeline(
    tiny_splits: Splits, monkeypatch: pytest.MonkeyPatch
) -> None:
    import architectures

    fed = []
    real = feed.batches

    def spy(x, y, batch_size, seed=None):
        fed.append((len(x), batch_size, seed))
        return real(x, y, batch_size, seed)

    monkeypatch.setattr(feed, "batches", spy)
    mlp = architectures.get("mlp")
    runner.fit(mlp, {**mlp.defaults, "epochs": 1}, tiny_splits, seed=5)
    train, validation = len(tiny_splits.x_train), len(tiny_splits.x_val)
    assert fed == [
        (train, mlp.defaults["batch_size"], 5),  # shuffled by the run's seed
        (validation, runner.INFERENCE_BATCH, None),
    ]
