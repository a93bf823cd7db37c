"""One self-contained HTML report of an experiment, built from what is in MLflow."""

from __future__ import annotations

import base64
import datetime
import html
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from benchmark import tracking
from benchmark.errors import BenchmarkError
from benchmark.report import data as report_data
from benchmark.report import figures
from benchmark.report.pareto import pareto_figure
from benchmark.results import leaderboard, runs

MISTAKES_SHOWN = 60
SECTIONS = {  # id -> heading, in page order
    "leaderboard": "Leaderboard",
    "validation-curves": "Validation accuracy",
    "pareto": "Accuracy against cost",
    "confusion-matrices": "Confusion matrices",
    "per-class-f1": "Per-class F1",
    "mistakes": "Mistakes of the best model",
}
STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330;
       margin: 0 auto; max-width: 1320px; padding: 0 24px 48px; }
header { border-bottom: 2px solid #d8dde6; margin-bottom: 8px; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #e3e7ee; }
.meta, figcaption, .caption { color: #566074; }
nav a { margin-right: 14px; } a { color: #1f5fbf; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e7ee; white-space: nowrap; }
th { background: #f3f5f9; text-align: left; white-space: normal; vertical-align: bottom; }
td.num { text-align: right; } tbody tr:nth-child(even) { background: #fafbfd; }
code { font-size: 12px; }
figure { margin: 12px 0; } img { max-width: 100%; height: auto; display: block; }
.note { background: #fff6e0; border-left: 4px solid #e0a800; padding: 8px 12px; }
"""


def default_folder(experiment: str) -> Path:
    """reports/<experiment>, the experiment name made safe for a folder name."""
    return Path("reports") / (re.sub(r"[^\w.-]+", "_", experiment).strip("._") or "experiment")


def write_report(
    experiment_id: str,
    experiment: str,
    folder: Path,
    say: Callable[[str], None] = print,
    ensemble_k: int | None = None,
) -> tuple[Path, str]:
    """Write folder/index.html for the experiment and log it to MLflow; return path and run id."""
    per_run = runs.read_runs(experiment_id)
    if per_run.empty:
        raise BenchmarkError(
            f"no finished training runs in experiment {experiment!r}; run "
            "'python -m benchmark run' first"
        )
    per_seed = report_data.runs_per_seed(per_run)
    bodies = {
        "leaderboard": lambda: _leaderboard(experiment_id, ensemble_k),
        "validation-curves": lambda: _curves(per_seed),
        "pareto": lambda: _pareto(per_seed),
        "confusion-matrices": lambda: _confusions(per_seed),
        "per-class-f1": lambda: _f1(per_seed),
        "mistakes": lambda: _mistakes(per_seed, say),
    }
    sections = {}
    for section_id, body in bodies.items():
        say(f"report: {SECTIONS[section_id].lower()}")
        sections[section_id] = body()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(page(experiment, per_seed, sections), encoding="utf-8")
    return path, tracking.log_report(experiment_id, path, list(per_seed["run_id"]))


def page(experiment: str, runs: pd.DataFrame, sections: dict[str, str]) -> str:
    """The whole HTML document: header, navigation and the given section bodies."""
    title = f"cnn-benchmark report: {experiment}"
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    labels = runs["label"].unique()
    nav = "".join(f'<a href="#{key}">{html.escape(SECTIONS[key])}</a>' for key in sections)
    body = "".join(
        f'<section id="{key}"><h2>{html.escape(SECTIONS[key])}</h2>{content}</section>'
        for key, content in sections.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        f'<p class="meta">{len(runs)} finished training runs (the newest of each architecture, '
        f"variant and seed) of {len(labels)} architectures; generated {generated} by "
        f"cnn-benchmark at commit <code>{html.escape(tracking.git_commit()[:12])}</code>. "
        "Runs are picked by validation accuracy only; the test set is only reported.</p>"
        f"<nav>{nav}</nav></header>{body}</body></html>\n"
    )


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _leaderboard(experiment_id: str, ensemble_k: int | None) -> str:
    board = leaderboard.from_experiment(experiment_id, ensemble_k=ensemble_k)
    if board.empty:
        return _note("the leaderboard is empty")
    command = "python -m benchmark leaderboard" + (
        f" --ensemble-k {ensemble_k}" if ensemble_k else ""
    )
    return (
        f'<p class="caption">As <code>{command}</code> prints it.</p>'
        f'<div class="table-wrap">{table(board)}</div>'
    )


def _curves(runs: pd.DataFrame) -> str:
    curves = report_data.validation_curves(runs)
    if not curves:
        return _note("no run logged val_accuracy")
    png = figures.to_png(figures.validation_band_figure(curves))
    return _figure(
        png,
        "validation accuracy per epoch",
        "Mean over seeds per epoch; the band spans the lowest to the highest seed.",
    )


def _pareto(runs: pd.DataFrame) -> str:
    summary = report_data.summary(runs).dropna(subset=["params", "train_seconds"])
    if summary.empty:
        return _note("no run logged params and train_seconds")
    return _figure(
        figures.to_png(pareto_figure(summary)),
        "test accuracy against parameters and training time",
        "A point is on the Pareto front (red outline, red steps) when no other architecture is "
        "both cheaper and more accurate.",
    )


def _confusions(runs: pd.DataFrame) -> str:
    matrices = report_data.confusion_matrices(report_data.best_per_label(runs))
    if not matrices:
        return _note("no run has a confusion_matrix.csv artifact")
    return _figure(
        figures.to_png(figures.confusion_grid_figure(matrices)),
        "confusion matrices",
        "Test-set counts of each architecture's run with the best validation accuracy; "
        "empty cells are zero, colours are on a log scale.",
    )


def _f1(runs: pd.DataFrame) -> str:
    f1 = report_data.per_class_f1(report_data.best_per_label(runs))
    if f1.empty:
        return _note("no run has a classification_report.json artifact")
    return _figure(
        figures.to_png(figures.f1_heatmap_figure(f1)),
        "per-class F1 heatmap",
        "From the same runs as the confusion matrices.",
    )


def _mistakes(runs: pd.DataFrame, say: Callable[[str], None]) -> str:
    try:
        found = report_data.best_model_mistakes(runs, MISTAKES_SHOWN, log=say)
    except BenchmarkError as error:
        say(f"report: mistakes left out: {error}")
        return _note(f"left out: {error}")
    accuracy = 1 - found.wrong / found.test_size
    summary = (
        f'<p class="caption">Best model by validation accuracy: <b>{html.escape(found.label)}'
        f"</b> (run <code>{found.run_id}</code>). It gets {found.wrong:,} of "
        f"{found.test_size:,} test images wrong: accuracy {accuracy:.4f} recomputed from the "
        f"logged model, {found.logged_accuracy:.4f} logged.</p>"
    )
    if not found.wrong:
        return summary
    shown = len(found.images)
    return summary + _figure(
        figures.to_png(
            figures.mistakes_figure(found.images, found.true, found.predicted, found.confidence)
        ),
        "misclassified test images",
        f"The {shown} most confident mistakes{'' if shown == found.wrong else ' shown'}: "
        "predicted label (its probability) over the true label.",
    )


def table(board: pd.DataFrame) -> str:
    """Any DataFrame as an HTML table, numbers as the leaderboard shows them and right-aligned."""
    columns = leaderboard.display(board, missing="–")
    numeric = {name: pd.api.types.is_numeric_dtype(board[name]) for name in board.columns}
    # Long snake_case headers may break after an underscore; the numbers below never wrap.
    head = "".join(
        f"<th>{html.escape(str(name)).replace('_', '_<wbr>')}</th>" for name in board.columns
    )
    rows = []
    for index in range(len(board)):
        cells = "".join(
            f"<td{' class=num' if numeric[name] else ''}>{html.escape(values.iloc[index])}</td>"
            for name, values in columns.items()
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
