"""The report page: its folder, section ids and headings, the Jinja2 template, HTML tables."""

from __future__ import annotations

import base64
import datetime
import functools
import html
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the page only shows them; rendering needs no MLflow nor TensorFlow
    from benchmark.report.mistakes import Mistakes

SECTIONS = {  # id -> heading, in page order
    "leaderboard": "Leaderboard",
    "validation-curves": "Validation accuracy",
    "pareto": "Accuracy against cost",
    "confusion-matrices": "Confusion matrices",
    "per-class-f1": "Per-class F1",
    "mistakes": "Mistakes of the best model",
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
class Section:
    """What one section shows; a note (why it is empty) replaces the rest."""

    id: str
    note: str | None = None
    figure: Figure | None = None
    command: str | None = None  # leaderboard: the command that prints the same table
    table: str | None = None  # leaderboard: HTML from `table`
    mistakes: Mistakes | None = None


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
    """Any DataFrame as an HTML table, numbers formatted per column and right-aligned."""
    columns = {name: format_column(board[name]) for name in board.columns}
    numeric = {name: pd.api.types.is_numeric_dtype(board[name]) for name in board.columns}
    # Long snake_case headers may break after an underscore; the numbers below never wrap.
    head = "".join(
        f"<th>{html.escape(str(name)).replace('_', '_<wbr>')}</th>" for name in board.columns
    )
    rows = []
    for index in range(len(board)):
        cells = "".join(
            f"<td{' class=num' if numeric[name] else ''}>{html.escape(values[index])}</td>"
            for name, values in columns.items()
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def format_column(values: pd.Series) -> list[str]:
    """Readable text for each value: whole numbers with commas, decimals by the column's size."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return [_text(value) for value in values]
    numbers = values.astype(float)  # nullable integers (the ensemble row's rank) become NaN
    finite = numbers[np.isfinite(numbers)]
    if finite.empty or (finite == finite.round()).all():
        return ["–" if _missing(value) else f"{value:,.0f}" for value in values]
    largest = finite.abs().max()
    # Four significant digits of the column's largest value (2.071, 38.61, 231.7, 1,234), but
    # never more than four places (0.9944, 0.0312); smaller values then print as 2.0e-07.
    places = min(4, max(0, 3 - math.floor(math.log10(largest)))) if largest > 0 else 0
    texts = []
    for value in values:
        if _missing(value):
            texts.append("–")
        elif value != 0 and abs(value) < 0.5 * 10**-places:  # e.g. a tiny p-value
            texts.append(f"{value:.1e}")
        else:
            texts.append(f"{value:,.{places}f}")
    return texts


def _text(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return "–" if _missing(value) else str(value)


def _missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
