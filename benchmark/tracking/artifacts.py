"""What a run keeps: a training result's numbers, files and model; the board; the report."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.types import Schema, TensorSpec

from benchmark.errors import BenchmarkError, first_line
from benchmark.tracking.processes import process_tags
from benchmark.training.result import HISTORY_KEYS, TrainingResult

PROBABILITIES_ARTIFACT = "test_probabilities.npz"
MODEL_FILE = "model.keras"  # the trained model, kept until it is logged
NUMBERS_FILE = "numbers.json"  # metrics, per-epoch history and the model's signature
WRITE_CHECK = ".write-check"  # artifact folder of the probe written before training
RUN_KIND_REPORT = "report"

# MLflow warns that a uv environment has no pip; the logged requirements are pinned anyway.
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
log = logging.getLogger(__name__)


def write_result(result: TrainingResult, folder: Path, pngs: dict[str, bytes]) -> None:
    """Write everything a training run logs to `folder`: its numbers, test reports, model and
    the PNGs other layers drew (artifact file name -> bytes, see figures.runs)."""
    files = folder / "artifacts"
    files.mkdir(parents=True)
    np.savez_compressed(
        files / PROBABILITIES_ARTIFACT,
        probabilities=np.asarray(result.probabilities, dtype=np.float32),
        y_true=np.asarray(result.y_true, dtype=np.uint8),
    )
    for name, png in pngs.items():
        (files / name).write_bytes(png)
    labels = result.labels
    matrix = pd.DataFrame(result.confusion_matrix(), index=labels, columns=labels)
    matrix.to_csv(files / "confusion_matrix.csv")
    text, report = result.classification_report()
    (files / "classification_report.txt").write_text(text)
    (files / "classification_report.json").write_text(json.dumps(report, indent=2))
    summary = io.StringIO()
    result.model.summary(print_fn=lambda line, **_: summary.write(line + "\n"))
    (files / "model_summary.txt").write_text(summary.getvalue())
    _save_diagram(result.model, files / "architecture.png")
    result.model.save(folder / MODEL_FILE)
    numbers = {
        "metrics": result.metrics(),
        "epoch_end_seconds": result.epoch_end_seconds,
        "history": result.history,
        "image_shape": list(result.model.input_shape[1:]),
        "classes": int(result.probabilities.shape[1]),
    }
    (folder / NUMBERS_FILE).write_text(json.dumps(numbers, default=float))


def log_written(folder: Path, logged_epochs: int, model: keras.Model | None = None) -> None:
    """Log a folder made by `write_result` into the active run; epochs up to logged_epochs skip.

    `model` is the trained model when it is still in memory; otherwise it is read back.
    """
    numbers = json.loads((folder / NUMBERS_FILE).read_text())
    mlflow.log_metrics(numbers["metrics"])
    for epoch, seconds in enumerate(numbers["epoch_end_seconds"], start=1):
        mlflow.log_metric("epoch_seconds", seconds, step=epoch)
    history = numbers["history"]
    for epoch in range(logged_epochs, len(history.get("loss", []))):
        values = {key: history[key][epoch] for key in HISTORY_KEYS if key in history}
        mlflow.log_metrics(values, step=epoch + 1)
    mlflow.log_artifacts(str(folder / "artifacts"))
    if model is None:
        model = keras.models.load_model(folder / MODEL_FILE)
    mlflow.keras.log_model(
        model,
        name="model",
        signature=_signature(tuple(numbers["image_shape"]), numbers["classes"]),
        pip_requirements=_model_requirements(),
    )


def log_png(png: bytes, artifact: str) -> None:
    """Log PNG bytes (a figure drawn by another layer) to the active run as `artifact`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(artifact).name
        path.write_bytes(png)
        parent = Path(artifact).parent.as_posix()
        mlflow.log_artifact(str(path), None if parent == "." else parent)


def _save_diagram(model: keras.Model, path: Path) -> None:
    """Write architecture.png when pydot and graphviz's dot are installed; say so when not."""
    import shutil

    if shutil.which("dot") is None:
        log.info("tracking: graphviz 'dot' not found; skipping the architecture diagram")
        return
    try:
        keras.utils.plot_model(model, to_file=str(path), show_shapes=True)
    except (ImportError, OSError) as error:
        log.warning(f"tracking: architecture diagram failed ({error}); skipping it")


def _signature(image_shape: tuple[int, ...], classes: int) -> ModelSignature:
    """Float images of the model's input shape in, class probabilities out."""
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float32"), (-1, *image_shape))]),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, classes))]),
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


def check_artifacts_writable() -> None:
    """Write and remove a small file in the active run's artifacts, or say why that fails."""
    run = mlflow.active_run()
    location = run.info.artifact_uri if run else "?"
    try:
        with tempfile.TemporaryDirectory() as folder:
            probe = Path(folder) / "write-check.txt"
            probe.write_text("checks that the artifact store takes files before training\n")
            mlflow.log_artifact(str(probe), WRITE_CHECK)
    except Exception as error:  # noqa: BLE001 - whatever refuses the file, say so before training
        raise BenchmarkError(
            f"artifact store {location} is not writable ({first_line(error)}); make it writable "
            "or pass another --tracking-uri"
        ) from None
    try:
        get_artifact_repository(location).delete_artifacts(WRITE_CHECK)
    except Exception as error:  # noqa: BLE001 - a leftover probe file is harmless
        log.debug(f"removing the artifact write check failed: {first_line(error)}")


def log_comparison(
    csv: str,
    markdown: str,
    overlay_png: bytes,
    folder: Path,
    metrics: dict[str, float] | None = None,
) -> None:
    """Write leaderboard.csv/.md to `folder`; log them, the validation overlay PNG (see
    figures.runs) as validation_accuracy.png and `metrics` to the active run."""
    if metrics:
        mlflow.log_metrics(metrics)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaderboard.csv").write_text(csv)
    (folder / "leaderboard.md").write_text(markdown + "\n")
    mlflow.log_artifact(str(folder / "leaderboard.csv"))
    mlflow.log_artifact(str(folder / "leaderboard.md"))
    log_png(overlay_png, "validation_accuracy.png")


def log_report(experiment_id: str, html_file: Path, source_run_ids: list[str]) -> str:
    """Log the HTML report to a new run tagged run_kind=report; return that run's id."""
    tags = {"run_kind": RUN_KIND_REPORT, **process_tags()}
    with mlflow.start_run(experiment_id=experiment_id, run_name="report", tags=tags) as run:
        mlflow.log_param("training_runs", len(source_run_ids))
        mlflow.log_text("\n".join(source_run_ids) + "\n", "source_runs.txt")
        mlflow.log_artifact(str(html_file))
    return run.info.run_id
