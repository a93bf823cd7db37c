"""MLflow's own UI: the link `run` prints opens the comparison, in a real server and browser."""

from __future__ import annotations

import contextlib
import html
import io
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from mlflow.tracking import MlflowClient
from test_report import CHROMIUM

from benchmark.cli import main
from benchmark.tracking import store, views

ARCHS = ["basic", "mlp"]
TINY = ["--seeds", "2", "--subset", "300", "--epochs", "1", "--jobs", "1"]
INTERVAL = "test_accuracy_95ci"  # the interval column: a tag on each run of a row with seeds
LINK = re.compile(r"^compare in MLflow[^:]*: (?P<link>\S+)$", re.MULTILINE)


def test_local_store_links_to_mlflow_ui_and_servers_to_themselves() -> None:
    assert views.ui_address("sqlite:///mlflow.db") == "http://127.0.0.1:5000"
    assert views.ui_address("http://host:5000/") == "http://host:5000"
    assert views.ui_address("https://me:s3cret@host") == "https://me:***@host"


def test_view_filters_the_runs_groups_seeds_and_charts_both_accuracies() -> None:
    state = views.comparison_view(["a1", "b2"])
    assert state["searchFilter"] == "attributes.run_id IN ('a1', 'b2')"
    assert state["groupBy"]["groupByKeys"] == [{"mode": "tag", "groupByData": "arch"}]
    assert "metrics.`test_accuracy`" in state["selectedColumns"]
    charted = {chart["metricKey"] for chart in state["compareRunCharts"]}
    assert charted == {"test_accuracy", "val_accuracy"}


def _main(*args: str) -> str:
    """What `python -m benchmark ARGS` prints on stdout; it must succeed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


def _printed_link(printed: str) -> str:
    found = LINK.findall(printed)
    assert len(found) == 1, printed[-2000:]
    return found[0]


@pytest.fixture(scope="module")
def printed(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A tiny `run` of two architectures x two seeds into a real server; (server, its link)."""
    folder = tmp_path_factory.mktemp("mlflow-ui")
    uri = ["--tracking-uri", mlflow_server, "--experiment", "mlflow-ui"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        ran = _main("run", "--arch", *ARCHS, *TINY, *uri, "--output-dir", str(folder))
        board = _main("leaderboard", *uri)
    link = _printed_link(ran)
    assert _printed_link(board) == link  # `leaderboard` prints the same link
    return mlflow_server, link


def _store_values(server: str) -> tuple[str, dict[str, list[float]]]:
    """The experiment id and each architecture's test accuracies, read from the store."""
    client = MlflowClient(server)
    experiment = client.get_experiment_by_name("mlflow-ui")
    runs = client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")
    values: dict[str, list[float]] = {}
    for run in runs:
        values.setdefault(run.data.tags["arch"], []).append(run.data.metrics["test_accuracy"])
    return experiment.experiment_id, values


def _store_intervals(server: str) -> dict[str, str]:
    """Each training run's name -> its interval tag, as the store holds it."""
    client = MlflowClient(server)
    experiment = client.get_experiment_by_name("mlflow-ui")
    runs = client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")
    return {run.info.run_name: run.data.tags.get(INTERVAL) for run in runs}


def _open(url: str, shot: Path, page_wait: str, header: str = "") -> tuple[str, int, bool]:
    """Load `url` in headless Chromium, wait for `page_wait`, save a screenshot.

    Returns the page's text, its number of charts and whether the table's column `header` is
    in sight (inside the table's visible width, not scrolled off to its right).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.goto(url)
        page.get_by_text(page_wait).first.wait_for(timeout=60_000)
        time.sleep(3)  # the charts draw after the runs arrive
        text = page.inner_text("body")
        charts = page.locator(".js-plotly-plot").count()
        in_sight = False
        if header and page.get_by_text(header, exact=True).count():
            column = page.get_by_text(header, exact=True).first.bounding_box()
            table = page.locator(".ag-root-wrapper").first.bounding_box()
            in_sight = bool(column and table) and (
                column["x"] + column["width"] <= table["x"] + table["width"]
            )
        page.screenshot(path=str(shot))
        browser.close()
    _keep(shot)
    return text, charts, in_sight


def _keep(shot: Path) -> None:
    """Copy a screenshot to $BENCHMARK_SCREENSHOTS, when set, as an artifact of the test run."""
    folder = os.environ.get("BENCHMARK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)


@pytest.mark.slow
def test_run_prints_one_link_and_tags_the_experiment_as_model_training(printed) -> None:
    server, link = printed
    experiment_id, _ = _store_values(server)
    assert link.startswith(f"{server}/#/experiments/{experiment_id}/runs?")
    query = parse_qs(urlsplit(link).fragment.partition("?")[2])
    assert query["workflowType"] == ["machine_learning"]
    tags = MlflowClient(server).get_experiment(experiment_id).tags
    assert tags[store.EXPERIMENT_KIND_TAG] == store.MODEL_TRAINING_KIND
    assert views.SHARED_VIEW_PREFIX + query["viewStateShareKey"][0] in tags
    training = MlflowClient(server).search_runs([experiment_id], "tags.run_kind = 'training'")
    assert training and all("mlflow.parentRunId" not in r.data.tags for r in training)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_printed_link_shows_the_comparison_without_a_click(printed, tmp_path) -> None:
    server, link = printed
    _, values = _store_values(server)
    text, charts, _ = _open(link, tmp_path / "mlflow-comparison.png", "Comparison")
    for arch, accuracies in values.items():
        assert f"Group: {arch}" in text, text[:2000]
        # the bar chart shows each architecture's mean over its seeds, as MLflow rounds it
        assert f"{sum(accuracies) / len(accuracies):.2f}" in text
    assert charts >= 2, "the test-accuracy bars and the validation-accuracy curves"
    assert "Overview" not in text.split("Comparison")[0]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_printed_links_table_has_each_runs_test_accuracy(printed, tmp_path) -> None:
    """The same view as a table (compareRunsMode=TABLE): every run's value and its interval."""
    server, link = printed
    _, values = _store_values(server)
    table = link.replace("compareRunsMode=CHART", "compareRunsMode=TABLE")
    text, _, in_sight = _open(table, tmp_path / "mlflow-table.png", "test_accuracy", INTERVAL)
    for arch, accuracies in values.items():
        assert f"Group: {arch}" in text
        for accuracy in accuracies:
            assert str(accuracy)[:5] in text, (accuracy, text[:3000])
    assert in_sight, "the interval column is next to test_accuracy, not off to the right"
    intervals = _store_intervals(server)
    assert len(intervals) == 4 and None not in intervals.values()
    for interval in intervals.values():  # two seeds each: "mean ± half-width"
        assert re.fullmatch(r"0\.\d{4} ± \d\.\d{4}", interval)
        assert text.count(interval) >= 2, (interval, text[:3000])


@pytest.mark.slow
def test_report_gives_the_same_link(printed, tmp_path) -> None:
    server, link = printed
    args = ["report", "--experiment", "mlflow-ui", "--tracking-uri", server]
    _main(*args, "--output", str(tmp_path / "report"))
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert html.escape(link) in page  # as HTML writes "&": "&amp;"
