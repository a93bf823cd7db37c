"""The report page: its folder, section ids and headings, its Jinja2 templates (page, tables)."""

from __future__ import annotations

import base64
import datetime
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import pandas as pd

from benchmark.results import leaderboard

if TYPE_CHECKING:  # the page only shows them; rendering needs no MLflow nor TensorFlow
    from benchmark.report.mistakes import Mistakes

SECTIONS = {  # id -> heading, in page order
    "leaderboard": "Leaderboard",
    "validation-curves": "Validation accuracy",
    "pareto": "Accuracy against cost",
    "confusion-matrices": "Confusion matrices",
    "per-class-f1": "Per-class F1",
    "mistakes": "Mistakes of the best model",
    "tuning": "Tuning: what mattered",
}


def default_folder(experiment: str) -> Path:
    """reports/<experiment>, the experiment name made safe for a folder name."""
    return Path("reports") / (re.sub(r"[^\w.-]+", "_", experiment).strip("._") or "experiment")


@dataclass(frozen=True)
class Figure:
    """A PNG embedded in the page, with its alt text and caption."""

    png: bytes
    alt: str
    caption: str

    @property
    def base64(self) -> str:
        """The PNG as base64 text for a data: URI."""
        return base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class StudyView:
    """One Optuna study in the tuning section: its importances and its history figure."""

    name: str
    arch: str
    run_id: str  # its newest finished `tune` run, which logged what is shown
    objectives: str
    counts: str  # trials per state, e.g. "10 complete, 2 pruned"
    importance_columns: list[str]  # one per objective with importances
    importance_rows: list[tuple[str, list[str]]]  # hyperparameter, its shares as shown
    figure: Figure | None


@dataclass(frozen=True)
class Section:
    """What one section shows; a note (why it is empty) replaces the rest."""

    id: str
    note: str | None = None
    figure: Figure | None = None
    command: str | None = None  # leaderboard: the command that prints the same table
    table: str | None = None  # leaderboard: HTML from `table`
    link: str | None = None  # leaderboard: the same runs as a comparison in MLflow's UI
    mistakes: Mistakes | None = None
    studies: tuple[StudyView, ...] = ()  # tuning: one view per study


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("benchmark.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the build, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["thousands"] = lambda number: f"{number:,}"
    return environment


def render(
    experiment: str, run_count: int, label_count: int, commit: str, sections: list[Section]
) -> str:
    """The whole HTML document: header, navigation and the given sections in order."""
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=f"cnn-benchmark report: {experiment}",
            run_count=run_count,
            label_count=label_count,
            generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            commit=commit[:12],
            headings=SECTIONS,
            sections=sections,
        )
    )


def table(board: pd.DataFrame) -> str:
    """Any DataFrame as an HTML table, numbers as the leaderboard shows them and right-aligned."""
    columns = leaderboard.display(board, missing="–")
    numeric = [pd.api.types.is_numeric_dtype(board[name]) for name in board.columns]
    rows = [
        list(zip((values.iloc[index] for _, values in columns.items()), numeric, strict=True))
        for index in range(len(board))
    ]
    headers = [str(name).split("_") for name in board.columns]
    return _environment().get_template("table.html.j2").render(headers=headers, rows=rows)
