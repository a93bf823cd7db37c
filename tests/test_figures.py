"""benchmark.figures draws every figure as PNG bytes; tracking only writes the bytes it is given."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from benchmark.figures.runs import training_run_pngs, validation_overlay_png
from benchmark.figures.tuning import optuna_pngs
from benchmark.tracking.artifacts import write_result
from benchmark.training.result import HISTORY_KEYS, TrainingResult

PNG = b"\x89PNG\r\n\x1a\n"


def tiny_result() -> TrainingResult:
    """A finished two-epoch run on six test images of three classes, without a model."""
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 1, 1, 0, 2, 2])
    return TrainingResult(
        arch="basic", params={}, seed=0,
        history={key: [0.5, 0.6] for key in HISTORY_KEYS}, epoch_end_seconds=[1.0, 2.0],
        test_metrics={"test_accuracy": 4 / 6}, y_true=y_true, y_pred=y_pred,
        probabilities=np.eye(3)[y_pred], param_count=10, train_seconds=2.0,
        evaluation_seconds=0.1, inference_ms_per_image=0.1, best_epoch=2, stopped_early=False,
        diverged=False, macs_per_image=5, latency_p50_ms=1.0, latency_p95_ms=1.0,
        throughput_images_per_second=100.0, train_size=30, target_accuracy=0.99,
        time_to_target_seconds=None, stopped_at_target=False, model=None,
        class_names=("zero", "one", "two"),
    )  # fmt: skip


def test_the_training_side_computes_the_test_reports() -> None:
    result = tiny_result()
    assert result.labels == ["zero", "one", "two"]
    assert result.confusion_matrix().tolist() == [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    text, report = result.classification_report()
    assert "zero" in text and "1.0000" in text  # four digits, as the artifact always had
    assert report["zero"]["f1-score"] == 1.0


def test_a_run_s_figures_are_png_bytes_under_their_artifact_names() -> None:
    pngs = training_run_pngs(tiny_result())
    assert set(pngs) == {"confusion_matrix.png", "training_curves.png"}
    assert all(png.startswith(PNG) for png in pngs.values())
    assert validation_overlay_png({"basic": [0.9, 0.95], "mlp": [0.8, 0.9]}).startswith(PNG)


def test_tracking_writes_the_figures_it_is_given_and_the_reports_the_result_made(
    tmp_path,
) -> None:
    class Model:  # what write_result asks of a Keras model, without training one
        input_shape = (None, 28, 28, 1)

        def summary(self, print_fn) -> None:
            print_fn("Model: tiny")

        def save(self, path) -> None:
            path.write_text("model")

    result = tiny_result()
    result.model = Model()
    write_result(result, tmp_path / "run", {"confusion_matrix.png": PNG + b"drawn elsewhere"})
    files = tmp_path / "run" / "artifacts"
    assert (files / "confusion_matrix.png").read_bytes() == PNG + b"drawn elsewhere"
    assert not (files / "training_curves.png").exists(), "tracking draws nothing itself"
    assert (files / "confusion_matrix.csv").read_text().splitlines()[0] == ",zero,one,two"
    report = json.loads((files / "classification_report.json").read_text())
    assert report["two"]["support"] == 2


@pytest.mark.parametrize("objectives", [1, 2])
def test_optuna_figures_are_drawn_for_accuracy(objectives: int) -> None:
    directions = ["maximize", "minimize"][:objectives]
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.RandomSampler(0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float | tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x if objectives == 1 else (x, trial.suggest_float("y", 0, 1))

    study.optimize(objective, n_trials=4)
    names = ["val accuracy", "cost"][:objectives]
    pngs = optuna_pngs(study, names, lambda trial: trial.values[0], None)
    expected = {"optimization_history.png"} | ({"pareto_front.png"} if objectives > 1 else set())
    assert set(pngs) == expected
    assert all(png.startswith(PNG) for png in pngs.values())
