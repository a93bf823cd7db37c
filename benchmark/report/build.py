"""Assemble the report's sections from what is in MLflow, write the page and log it as a run."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure as PlotFigure

from benchmark import runtime, tracking
from benchmark.data.sources import Request
from benchmark.errors import BenchmarkError
from benchmark.figures import report as figures
from benchmark.figures.common import to_png
from benchmark.figures.pareto import pareto_figure
from benchmark.report import data as report_data
from benchmark.report.mistakes import best_model_mistakes
from benchmark.report.page import SECTIONS, Figure, Section, render, table
from benchmark.report.tuning import tuning_section
from benchmark.results import leaderboard, runs

log = logging.getLogger(__name__)

MISTAKES_SHOWN = 60  # images in the mistakes gallery, six rows of ten
# Each figure section's alt text and caption.
FIGURE_TEXT = {
    "validation-curves": (
        "validation accuracy per epoch",
        "Mean over seeds per epoch; the band spans the lowest to the highest seed.",
    ),
    "pareto": (
        "test accuracy against parameters, training time and training FLOPs",
        "A point is on the Pareto front (red outline, red steps) when no other architecture "
        "is both cheaper and more accurate.",
    ),
    "confusion-matrices": (
        "confusion matrices",
        "Test-set counts of each architecture's run with the best validation accuracy; "
        "empty cells are zero, colours are on a log scale.",
    ),
    "per-class-f1": ("per-class F1 heatmap", "From the same runs as the confusion matrices."),
}


def write_report(
    experiment_id: str,
    experiment: str,
    folder: Path,
    ensemble_k: int | None = None,
    request: Request | None = None,
) -> tuple[Path, str]:
    """Write folder/index.html for the experiment and log it to MLflow; return path and run id."""
    per_run = runs.read_runs(experiment_id)
    if per_run.empty:
        tuned = tuning_section(experiment_id)
        if tuned.note:
            raise BenchmarkError(
                f"no finished training runs in experiment {experiment!r}, nor tune runs; run "
                "'python -m benchmark run' or 'tune' first"
            )
        return _write(experiment_id, experiment, folder, [tuned], per_run)
    per_seed = report_data.runs_per_seed(per_run)
    builders = {
        "leaderboard": lambda: _leaderboard(experiment_id, ensemble_k),
        "validation-curves": lambda: _curves(per_seed),
        "pareto": lambda: _pareto(per_seed),
        "confusion-matrices": lambda: _confusions(per_seed),
        "per-class-f1": lambda: _f1(per_seed),
        "mistakes": lambda: _mistakes(per_seed, request),
        "tuning": lambda: tuning_section(experiment_id),
    }
    sections = []
    for section_id, builder in builders.items():
        log.info("report: %s", SECTIONS[section_id].lower())
        sections.append(builder())
    return _write(experiment_id, experiment, folder, sections, per_seed)


def _write(
    experiment_id: str, experiment: str, folder: Path, sections: list[Section], runs: pd.DataFrame
) -> tuple[Path, str]:
    """Render the sections to folder/index.html and log it; return the path and the run id."""
    text = render(
        experiment,
        run_count=len(runs),
        label_count=runs["label"].nunique() if "label" in runs else 0,
        commit=runtime.git_commit(),
        sections=sections,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(text, encoding="utf-8")
    run_ids = list(runs["run_id"]) if "run_id" in runs else []
    return path, tracking.log_report(experiment_id, path, run_ids)


def _leaderboard(experiment_id: str, ensemble_k: int | None) -> Section:
    board = leaderboard.from_experiment(experiment_id, ensemble_k=ensemble_k)
    if board.empty:
        return Section("leaderboard", note="the leaderboard is empty")
    command = "python -m benchmark leaderboard" + (
        f" --ensemble-k {ensemble_k}" if ensemble_k else ""
    )
    link = board.attrs.get("mlflow_link")
    return Section("leaderboard", command=command, table=table(board), link=link)


def _curves(runs: pd.DataFrame) -> Section:
    curves = report_data.validation_curves(runs)
    if not curves:
        return Section("validation-curves", note="no run logged val_accuracy")
    return _figure_section("validation-curves", figures.validation_band_figure(curves))


def _pareto(runs: pd.DataFrame) -> Section:
    summary = report_data.summary(runs).dropna(subset=["params", "train_seconds"])
    if summary.empty:
        return Section("pareto", note="no run logged params and train_seconds")
    return _figure_section("pareto", pareto_figure(summary))


def _confusions(runs: pd.DataFrame) -> Section:
    matrices = report_data.confusion_matrices(report_data.best_per_label(runs))
    if not matrices:
        return Section("confusion-matrices", note="no run has a confusion_matrix.csv artifact")
    return _figure_section("confusion-matrices", figures.confusion_grid_figure(matrices))


def _f1(runs: pd.DataFrame) -> Section:
    f1 = report_data.per_class_f1(report_data.best_per_label(runs))
    if f1.empty:
        return Section("per-class-f1", note="no run has a classification_report.json artifact")
    return _figure_section("per-class-f1", figures.f1_heatmap_figure(f1))


def _figure_section(section_id: str, fig: PlotFigure) -> Section:
    """A section that shows one figure, embedded as a PNG with its FIGURE_TEXT."""
    return Section(section_id, figure=Figure(to_png(fig), *FIGURE_TEXT[section_id]))


def _mistakes(runs: pd.DataFrame, request: Request | None = None) -> Section:
    try:
        found = best_model_mistakes(runs, MISTAKES_SHOWN, request)
    except BenchmarkError as error:
        log.warning("report: mistakes left out: %s", error)
        return Section("mistakes", note=f"left out: {error}")
    if not found.wrong:
        return Section("mistakes", mistakes=found)
    shown = len(found.images)
    return Section(
        "mistakes",
        mistakes=found,
        figure=Figure(
            to_png(
                figures.mistakes_figure(
                    found.images,
                    found.true,
                    found.predicted,
                    found.confidence,
                    found.class_names,
                    inverted=found.dataset == "mnist",
                )
            ),
            "misclassified test images",
            f"The {shown} most confident mistakes{'' if shown == found.wrong else ' shown'}: "
            "predicted label (its probability) over the true label.",
        ),
    )
