"""Train one architecture on prepared splits and evaluate it once on the test set."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from architectures.registry import Architecture
from benchmark.data.splits import Splits, to_model_input
from benchmark.settings import TARGET_ACCURACY
from benchmark.training import costs, feed, interrupts, precision
from benchmark.training.costs import INFERENCE_BATCH
from benchmark.training.optimizers import learning_rate_for, make_optimizer
from benchmark.training.result import HISTORY_KEYS, TrainingResult


class _EpochClock(keras.callbacks.Callback):
    """Record the elapsed training seconds at the end of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.start = 0.0
        self.ends: list[float] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.ends.append(time.perf_counter() - self.start)


class _StopAtTarget(keras.callbacks.Callback):
    """End training after the first epoch whose validation accuracy reaches the target."""

    def __init__(self, target: float) -> None:
        super().__init__()
        self.target = target

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (logs or {}).get("val_accuracy", 0.0) >= self.target:
            self.model.stop_training = True


def build_model(
    arch: Architecture, params: dict[str, Any], splits: Splits, dtype: str = "float32"
) -> keras.Model:
    """Build and compile the architecture for sparse integer labels in `dtype` arithmetic.

    `dtype` is a resolved precision (float32, bfloat16, float16); the layers take its policy
    when they are made, so only the build runs under it.
    """
    with precision.policy(dtype):
        model = arch.build(params, splits.input_shape, splits.num_classes)
    model.compile(
        optimizer=make_optimizer(
            params["optimizer"],
            learning_rate_for(params, len(splits.x_train)),
            # Adam's own defaults unless the architecture sets its betas (speedrun does).
            beta_1=params.get("beta_1", 0.9),
            beta_2=params.get("beta_2", 0.999),
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def evaluate(
    model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = INFERENCE_BATCH
) -> dict:
    """Predict once and derive loss, accuracy, macro/weighted precision, recall and F1."""
    start = time.perf_counter()
    probabilities = model.predict(
        feed.batches(x, None, batch_size), verbose=0, callbacks=[interrupts.BetweenSteps()]
    )
    predict_seconds = time.perf_counter() - start
    y_pred = probabilities.argmax(axis=1)
    # Keras clips probabilities at 1e-7 in its cross-entropy; match it so test_loss agrees.
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1.0)
    metrics = {
        "test_loss": float(-np.log(picked).mean()),
        "test_accuracy": float((y_pred == y).mean()),
    }
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, y_pred, average=average, zero_division=0
        )
        metrics[f"test_precision_{average}"] = float(precision)
        metrics[f"test_recall_{average}"] = float(recall)
        metrics[f"test_f1_{average}"] = float(f1)
    return {
        "metrics": metrics,
        "y_pred": y_pred,
        "probabilities": probabilities,
        "inference_ms_per_image": 1000.0 * predict_seconds / len(x),
        "seconds": time.perf_counter() - start,
    }


@dataclass
class FitOutcome:
    """A trained model and its per-epoch record, before any look at the test set."""

    model: Any = field(repr=False)
    history: dict[str, list[float]]
    epoch_end_seconds: list[float]
    train_seconds: float
    best_epoch: int
    stopped_early: bool
    diverged: bool


@interrupts.deferred()  # Ctrl-C and SIGTERM stop between batches, never inside TensorFlow
def fit(
    arch: Architecture,
    params: dict[str, Any],
    splits: Splits,
    seed: int = 0,
    early_stopping: bool = True,
    callbacks: list[keras.callbacks.Callback] | None = None,
    dtype: str = "float32",
    stop_at: float | None = None,
) -> FitOutcome:
    """Train on the training split with validation after every epoch; never reads test data.

    With `stop_at`, training ends after the first epoch whose validation accuracy reaches it.
    """
    keras.utils.set_random_seed(seed)
    model = build_model(arch, params, splits, dtype)
    x_train, x_val = to_model_input(splits.x_train), to_model_input(splits.x_val)
    clock = _EpochClock()
    all_callbacks: list[keras.callbacks.Callback] = [
        clock,
        keras.callbacks.TerminateOnNaN(),
        interrupts.BetweenSteps(),
    ]
    if early_stopping:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["patience"], restore_best_weights=True
            )
        )
    if stop_at is not None:
        all_callbacks.append(_StopAtTarget(stop_at))
    all_callbacks.extend(callbacks or [])

    start = time.perf_counter()
    fitted = model.fit(
        feed.batches(x_train, splits.y_train, params["batch_size"], seed=seed),
        epochs=params["epochs"],
        shuffle=False,  # the feed shuffles, by the seed
        validation_data=feed.batches(x_val, splits.y_val, INFERENCE_BATCH),
        callbacks=all_callbacks,
        verbose=0,
    )
    train_seconds = time.perf_counter() - start
    history = {key: [float(v) for v in fitted.history.get(key, [])] for key in HISTORY_KEYS}
    diverged = any(not math.isfinite(v) for v in history["loss"])
    if early_stopping and not diverged and history["val_loss"]:
        best_epoch = int(np.argmin(history["val_loss"])) + 1
    else:
        best_epoch = len(history["loss"])
    return FitOutcome(
        model=model,
        history=history,
        epoch_end_seconds=list(clock.ends),
        train_seconds=train_seconds,
        best_epoch=best_epoch,
        stopped_early=len(history["loss"]) < params["epochs"],
        diverged=diverged,
    )


@interrupts.deferred()
def train_and_evaluate(
    arch: Architecture,
    params: dict[str, Any],
    splits: Splits,
    target_accuracy: float = TARGET_ACCURACY,
    stop_at_target: bool = False,
    **fit_options: Any,
) -> TrainingResult:
    """Train on the training split, select on validation, evaluate once on test, time it.

    `fit_options` are `fit`'s (seed, early_stopping, callbacks, dtype). With
    `stop_at_target`, each run trains until validation accuracy first reaches
    `target_accuracy` (at most its epochs), and the test evaluation is of that model.
    """
    seed = fit_options.get("seed", 0)
    stop_at = target_accuracy if stop_at_target else None
    outcome = fit(arch, params, splits, stop_at=stop_at, **fit_options)
    model, history = outcome.model, outcome.history
    x_test = to_model_input(splits.x_test)
    evaluation = evaluate(model, x_test, splits.y_test)
    interrupts.check()
    latency_p50_ms, latency_p95_ms = costs.latency_ms(model, splits.input_shape)
    interrupts.check()
    return TrainingResult(
        arch=arch.name,
        params=dict(params),
        seed=seed,
        history=outcome.history,
        epoch_end_seconds=outcome.epoch_end_seconds,
        test_metrics=evaluation["metrics"],
        y_true=np.asarray(splits.y_test),
        y_pred=evaluation["y_pred"],
        probabilities=evaluation["probabilities"],
        param_count=int(outcome.model.count_params()),
        train_seconds=outcome.train_seconds,
        evaluation_seconds=evaluation["seconds"],
        inference_ms_per_image=evaluation["inference_ms_per_image"],
        best_epoch=outcome.best_epoch,
        stopped_early=outcome.stopped_early,
        diverged=outcome.diverged,
        macs_per_image=costs.count_macs(model),
        latency_p50_ms=latency_p50_ms,
        latency_p95_ms=latency_p95_ms,
        throughput_images_per_second=costs.throughput(model, x_test),
        train_size=len(splits.x_train),
        target_accuracy=target_accuracy,
        stopped_at_target=stop_at_target,
        time_to_target_seconds=costs.time_to_target(
            history["val_accuracy"], outcome.epoch_end_seconds, target_accuracy
        ),
        model=model,
        class_names=splits.names,
    )
