"""`train_and_evaluate` called directly on a tiny split: no CLI, no MLflow, a few seconds each."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pytest
from sklearn.metrics import f1_score

import architectures
from benchmark.data.splits import Splits, to_model_input
from benchmark.errors import BenchmarkError
from benchmark.training import costs
from benchmark.training.optimizers import learning_rate_for, make_optimizer
from benchmark.training.runner import HISTORY_KEYS, TrainingResult, fit, train_and_evaluate

MLP = architectures.get("mlp")  # the quickest architecture to train on a CPU
TWO_EPOCHS = {**MLP.defaults, "epochs": 2}
# A learning rate of 0 leaves the weights as built: validation loss is the same every epoch.
FROZEN = {**MLP.defaults, "epochs": 3, "patience": 0, "learning_rate": 0.0}
FROZEN["lr_schedule"] = "constant"


@pytest.fixture(scope="module")
def result(tiny_splits: Splits) -> TrainingResult:
    """Two epochs of the MLP on 300 images, without early stopping, seed 0."""
    return train_and_evaluate(MLP, TWO_EPOCHS, tiny_splits, seed=0, early_stopping=False)


def same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_result_describes_the_run(result: TrainingResult, tiny_splits: Splits) -> None:
    assert result.arch == "mlp" and result.seed == 0
    assert result.params == TWO_EPOCHS
    assert set(result.history) == set(HISTORY_KEYS)
    assert all(len(values) == 2 for values in result.history.values())
    assert all(math.isfinite(value) for values in result.history.values() for value in values)
    assert result.epochs_run == 2 and result.best_epoch == 2
    assert not result.stopped_early and not result.diverged
    assert result.best_val_accuracy == max(result.history["val_accuracy"])
    first, last = result.epoch_end_seconds
    assert 0 < first < last <= result.train_seconds
    assert result.seconds_per_epoch == pytest.approx(result.train_seconds / 2)
    assert result.param_count == result.model.count_params() == 535_818
    assert result.evaluation_seconds > 0 and result.inference_ms_per_image > 0


def test_test_metrics_agree_with_the_returned_predictions(
    result: TrainingResult, tiny_splits: Splits
) -> None:
    probabilities = result.probabilities
    assert probabilities.shape == (len(tiny_splits.y_test), 10) == (150, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(result.y_true, tiny_splits.y_test)
    np.testing.assert_array_equal(result.y_pred, probabilities.argmax(axis=1))
    metrics = result.test_metrics
    assert set(metrics) == {
        "test_loss",
        "test_accuracy",
        "test_precision_macro",
        "test_recall_macro",
        "test_f1_macro",
        "test_precision_weighted",
        "test_recall_weighted",
        "test_f1_weighted",
    }
    assert metrics["test_accuracy"] == pytest.approx((result.y_pred == result.y_true).mean())
    picked = probabilities[np.arange(150), result.y_true]
    assert metrics["test_loss"] == pytest.approx(-np.log(picked).mean(), rel=1e-5)
    assert metrics["test_f1_macro"] == pytest.approx(
        f1_score(result.y_true, result.y_pred, average="macro", zero_division=0)
    )
    # The returned model is the one that was evaluated.
    again = result.model.predict(to_model_input(tiny_splits.x_test), verbose=0)
    np.testing.assert_allclose(again, probabilities, rtol=1e-5, atol=1e-6)


def test_costs_are_measured_on_the_trained_model(result: TrainingResult) -> None:
    assert result.macs_per_image == costs.count_macs(result.model) == 784 * 512 + 512 * 256 + 2560
    assert result.flops_per_image == 2 * result.macs_per_image
    assert 0 < result.latency_p50_ms <= result.latency_p95_ms < 1000
    assert result.throughput_images_per_second > 0
    assert result.target_accuracy == 0.99
    assert result.time_to_target_seconds is None  # two epochs on 300 images stay far below 99%


def test_same_seed_trains_the_same_model_without_looking_at_test_data(
    result: TrainingResult, tiny_splits: Splits
) -> None:
    rng = np.random.default_rng(0)
    scrambled = dataclasses.replace(
        tiny_splits,
        x_test=rng.integers(0, 256, tiny_splits.x_test.shape, dtype=np.uint8),
        y_test=rng.permutation(tiny_splits.y_test),
    )
    again = fit(MLP, TWO_EPOCHS, scrambled, seed=0, early_stopping=False)
    assert again.history == result.history
    assert same_weights(again.model, result.model)
    other = fit(MLP, TWO_EPOCHS, tiny_splits, seed=1, early_stopping=False)
    assert other.history["loss"] != result.history["loss"]
    assert not same_weights(other.model, result.model)


class _ZeroAfterFirstEpoch(keras.callbacks.Callback):
    """Wipe the weights after epoch 1, so epoch 2 is worse and epoch 1 stays the best."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 0:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])


def test_early_stopping_keeps_the_weights_of_the_best_epoch(tiny_splits: Splits) -> None:
    params = {**MLP.defaults, "epochs": 5, "patience": 1}
    stopped = train_and_evaluate(
        MLP, params, tiny_splits, callbacks=[_ZeroAfterFirstEpoch()], target_accuracy=0.0
    )
    assert stopped.epochs_run == 2 and stopped.stopped_early
    assert stopped.best_epoch == 1 and not stopped.diverged
    val_loss = stopped.history["val_loss"]
    assert val_loss[1] == pytest.approx(math.log(10), abs=0.01)  # zero weights: uniform output
    assert val_loss[0] < val_loss[1]
    loss, _ = stopped.model.evaluate(
        to_model_input(tiny_splits.x_val), tiny_splits.y_val, verbose=0
    )
    assert loss == pytest.approx(val_loss[0], rel=1e-4), "the model holds epoch 1's weights"
    assert stopped.test_metrics["test_loss"] < math.log(10) - 0.05
    assert stopped.time_to_target_seconds == stopped.epoch_end_seconds[0]  # any accuracy >= 0


def test_patience_ends_a_run_that_stops_improving_unless_early_stopping_is_off(
    tiny_splits: Splits,
) -> None:
    stopped = fit(MLP, FROZEN, tiny_splits)
    assert len(set(stopped.history["val_loss"])) == 1
    assert len(stopped.history["loss"]) == 2 and stopped.stopped_early
    assert stopped.best_epoch == 1
    full = fit(MLP, FROZEN, tiny_splits, early_stopping=False)
    assert len(full.history["loss"]) == 3 and not full.stopped_early
    assert full.best_epoch == 3  # without early stopping the last epoch's weights are kept


def test_a_nan_loss_ends_training_and_is_reported_not_raised(tiny_splits: Splits) -> None:
    params = {**MLP.defaults, "epochs": 5, "learning_rate": 1e9, "lr_schedule": "constant"}
    diverged = train_and_evaluate(MLP, params, tiny_splits)
    assert diverged.diverged and diverged.stopped_early
    assert diverged.epochs_run < 5
    assert math.isnan(diverged.history["loss"][-1])
    assert diverged.best_epoch == diverged.epochs_run  # no best epoch to go back to
    assert 0.0 <= diverged.test_metrics["test_accuracy"] <= 1.0


def test_cosine_schedule_decays_to_one_percent_over_the_planned_steps() -> None:
    params = {"lr_schedule": "cosine", "learning_rate": 0.1, "epochs": 2, "batch_size": 128}
    schedule = learning_rate_for(params, train_size=300)
    steps = 2 * math.ceil(300 / 128)
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(steps)) == pytest.approx(0.001)
    assert learning_rate_for({**params, "lr_schedule": "constant"}, 300) == 0.1


def test_unknown_optimizer_or_schedule_is_a_user_error() -> None:
    assert isinstance(make_optimizer("sgd", 0.1), keras.optimizers.SGD)
    with pytest.raises(BenchmarkError, match="unknown optimizer 'lbfgs'; choose from adam"):
        make_optimizer("lbfgs", 0.1)
    with pytest.raises(BenchmarkError, match="unknown lr_schedule 'step'"):
        learning_rate_for({"lr_schedule": "step", "learning_rate": 0.1}, 300)


def test_training_to_a_target_stops_at_the_first_epoch_that_reaches_it(
    tiny_splits: Splits,
) -> None:
    params = {**MLP.defaults, "epochs": 4}
    reached = train_and_evaluate(
        MLP, params, tiny_splits, early_stopping=False, target_accuracy=0.3, stop_at_target=True
    )
    first = next(i for i, a in enumerate(reached.history["val_accuracy"], 1) if a >= 0.3)
    assert reached.epochs_run == first == reached.epochs_to_target < 4
    metrics = reached.metrics()
    assert metrics["reached_target"] == 1.0 and metrics["epochs_to_target"] == first
    assert metrics["time_to_target_seconds"] == reached.epoch_end_seconds[first - 1]
    images_seen = first * len(tiny_splits.x_train)
    assert metrics["train_flops_to_target"] == 3 * reached.flops_per_image * images_seen
    # The test evaluation is of the model as it stood when validation reached the target.
    assert metrics["test_accuracy_at_target"] == metrics["test_accuracy"]

    never = train_and_evaluate(
        MLP, {**params, "epochs": 2}, tiny_splits, early_stopping=False,
        target_accuracy=1.0, stop_at_target=True,
    )  # fmt: skip
    assert never.epochs_run == 2 and never.epochs_to_target is None
    metrics = never.metrics()
    assert metrics["reached_target"] == 0.0
    assert not {"time_to_target_seconds", "epochs_to_target", "train_flops_to_target"} & set(
        metrics
    )
    assert "test_accuracy_at_target" not in metrics


def test_without_stop_at_target_a_reached_target_does_not_end_training(
    result: TrainingResult,
) -> None:
    assert result.metrics()["reached_target"] == 0.0  # 2 epochs on 300 images stay below 99%
    early = dataclasses.replace(result, target_accuracy=0.0)
    assert early.epochs_run == 2 and early.epochs_to_target == 1
    assert "test_accuracy_at_target" not in early.metrics(), "the model trained on past it"


def test_one_cycle_warms_up_to_the_peak_over_a_fifth_then_decays_to_zero() -> None:
    params = {"lr_schedule": "one_cycle", "learning_rate": 0.01, "epochs": 2, "batch_size": 256}
    schedule = learning_rate_for(params, train_size=54_000)
    steps = 2 * math.ceil(54_000 / 256)  # 422
    warmup = round(0.2 * steps)  # 84
    assert float(schedule(0)) == pytest.approx(0.0004)  # 4% of the peak
    assert float(schedule(warmup // 2)) == pytest.approx(0.0052, rel=0.02)  # linear, halfway
    assert float(schedule(warmup)) == pytest.approx(0.01)
    assert max(float(schedule(step)) for step in range(0, steps, 7)) <= 0.01 + 1e-9
    assert float(schedule(steps - 1)) < 1e-6
    assert float(schedule(steps)) == pytest.approx(0.0, abs=1e-9)


def test_adam_betas_come_from_the_params_with_adams_defaults_otherwise(tiny_splits) -> None:
    from benchmark.training.runner import build_model

    speedrun = architectures.get("speedrun")
    tuned = build_model(speedrun, speedrun.defaults, tiny_splits).optimizer
    assert (tuned.beta_1, tuned.beta_2) == (0.7, 0.9)
    plain = build_model(MLP, MLP.defaults, tiny_splits).optimizer
    assert "beta_1" not in MLP.defaults
    assert (plain.beta_1, plain.beta_2) == (0.9, 0.999)
    schedule = speedrun.defaults["lr_schedule"]
    assert schedule == "one_cycle" and speedrun.defaults["learning_rate"] == 0.01
