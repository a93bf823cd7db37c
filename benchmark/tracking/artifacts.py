"""What a run keeps: a training result's metrics, figures and model; the board; the report."""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec
from sklearn.metrics import classification_report, confusion_matrix

from benchmark.tracking import plots
from benchmark.tracking.processes import _process_tags
from benchmark.training.result import TrainingResult

PROBABILITIES_ARTIFACT = "test_probabilities.npz"
RUN_KIND_REPORT = "report"

# MLflow warns that a uv environment has no pip; the logged requirements are pinned anyway.
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
log = logging.getLogger(__name__)


def log_result(result: TrainingResult) -> None:
    """Final metrics, figures, reports and the model, into the active run."""
    mlflow.log_metrics(result.metrics())
    for epoch, seconds in enumerate(result.epoch_end_seconds, start=1):
        mlflow.log_metric("epoch_seconds", seconds, step=epoch)
    _log_probabilities(result.probabilities, result.y_true)
    labels = [str(label) for label in range(result.probabilities.shape[1])]
    matrix = confusion_matrix(result.y_true, result.y_pred, labels=range(len(labels)))
    title = f"{result.arch}: test accuracy {result.test_metrics['test_accuracy']:.4f}"
    _log_figure(plots.confusion_matrix_figure(matrix, labels, title), "confusion_matrix.png")
    mlflow.log_text(
        pd.DataFrame(matrix, index=labels, columns=labels).to_csv(), "confusion_matrix.csv"
    )
    report_args = {
        "y_true": result.y_true,
        "y_pred": result.y_pred,
        "digits": 4,
        "target_names": labels,
        "zero_division": 0,
    }
    mlflow.log_text(classification_report(**report_args), "classification_report.txt")
    mlflow.log_dict(
        classification_report(**report_args, output_dict=True), "classification_report.json"
    )
    _log_figure(plots.training_curves_figure(result.history, result.arch), "training_curves.png")
    summary = io.StringIO()
    result.model.summary(print_fn=lambda line, **_: summary.write(line + "\n"))
    mlflow.log_text(summary.getvalue(), "model_summary.txt")
    _log_diagram(result.model)
    mlflow.keras.log_model(
        result.model,
        name="model",
        signature=_signature(result),
        pip_requirements=_model_requirements(),
    )


def _log_probabilities(probabilities: np.ndarray, y_true: np.ndarray) -> None:
    """Log the test-set softmax outputs and labels, for significance tests and ensembles."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / PROBABILITIES_ARTIFACT
        np.savez_compressed(
            path,
            probabilities=np.asarray(probabilities, dtype=np.float32),
            y_true=np.asarray(y_true, dtype=np.uint8),
        )
        mlflow.log_artifact(str(path))


def _log_figure(fig: Any, artifact: str) -> None:
    mlflow.log_figure(fig, artifact)
    plots.close(fig)


def _log_diagram(model: keras.Model) -> None:
    """Log architecture.png when pydot and graphviz's dot are installed; say so when not."""
    import shutil
    import tempfile

    if shutil.which("dot") is None:
        log.info("tracking: graphviz 'dot' not found; skipping the architecture diagram")
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "architecture.png"
        try:
            keras.utils.plot_model(model, to_file=str(path), show_shapes=True)
        except (ImportError, OSError) as error:
            log.warning(f"tracking: architecture diagram failed ({error}); skipping it")
            return
        mlflow.log_artifact(str(path))


def _signature(result: TrainingResult) -> ModelSignature:
    """Float images of the model's input shape in, class probabilities out."""
    image_shape = tuple(result.model.input_shape[1:])
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float32"), (-1, *image_shape))]),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, result.probabilities.shape[1]))]),
    )


def _model_requirements() -> list[str]:
    """Pinned requirements for the logged model; given so MLflow skips its slow inference."""
    import tensorflow as tf

    return [
        f"keras=={keras.__version__}",
        f"tensorflow=={tf.__version__}",
        f"mlflow=={mlflow.__version__}",
        f"numpy=={np.__version__}",
    ]


def log_comparison(
    csv: str,
    markdown: str,
    curves: dict[str, list[float]],
    folder: Path,
    metrics: dict[str, float] | None = None,
) -> None:
    """Write leaderboard.csv/.md to `folder`, log them, the overlay and `metrics` to the run."""
    if metrics:
        mlflow.log_metrics(metrics)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaderboard.csv").write_text(csv)
    (folder / "leaderboard.md").write_text(markdown + "\n")
    mlflow.log_artifact(str(folder / "leaderboard.csv"))
    mlflow.log_artifact(str(folder / "leaderboard.md"))
    _log_figure(plots.validation_overlay_figure(curves), "validation_accuracy.png")


def log_report(experiment_id: str, html_file: Path, source_run_ids: list[str]) -> str:
    """Log the HTML report to a new run tagged run_kind=report; return that run's id."""
    tags = {"run_kind": RUN_KIND_REPORT, **_process_tags()}
    with mlflow.start_run(experiment_id=experiment_id, run_name="report", tags=tags) as run:
        mlflow.log_param("training_runs", len(source_run_ids))
        mlflow.log_text("\n".join(source_run_ids) + "\n", "source_runs.txt")
        mlflow.log_artifact(str(html_file))
    return run.info.run_id
