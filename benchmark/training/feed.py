"""The batches `fit`, validation and `predict` read: tf.data over in-memory arrays, no autotuning.

Keras feeds numpy arrays through its own tf.data pipeline with autotuned parallelism. Tearing
down that pipeline's iterator at each epoch's end waits for its autotuning threads, and when
another process keeps the cores busy (`run --jobs 2`) that wait can leave a worker idle while
the other trains alone (benchmarks/epoch_gap.py measures it; docs/results.md, "Zen 5: the feed
and `--jobs auto`"). The same pipeline built here, one batch prefetched and autotuning off,
has no such wait.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def batches(
    x: np.ndarray, y: np.ndarray | None, batch_size: int, seed: int | None = None
) -> tf.data.Dataset:
    """(x, y) in batches of `batch_size`, the last one smaller; x alone when y is None.

    With `seed`, each pass over the dataset (each epoch) reads a new random order, the same
    sequence of orders for the same seed; without it, the arrays' order.
    """
    count = len(x)
    order = tf.data.Dataset.range(count)
    if seed is not None:
        order = order.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    arrays = (x,) if y is None else (x, y)
    # The arrays enter the pipeline once, as one element repeated beside each batch of
    # indices, rather than as constants in the gather function's graph.
    data = tf.data.Dataset.zip(
        (order.batch(batch_size), tf.data.Dataset.from_tensors(arrays).repeat())
    )

    def gather(indices: tf.Tensor, tensors: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, ...]:
        taken = tuple(tf.gather(tensor, indices) for tensor in tensors)
        return taken[0] if y is None else taken

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return data.map(gather).prefetch(1).with_options(options)
