"""The HTML report: built from real runs in a temporary MLflow store, checked as a user opens it."""

from __future__ import annotations

import base64
import io
import logging
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from benchmark import tracking
from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.errors import BenchmarkError
from benchmark.figures.pareto import pareto_front
from benchmark.report import build
from benchmark.report import page as report
from benchmark.report.mistakes import best_model_mistakes
from benchmark.results import leaderboard
from benchmark.results.metrics import format_column

SMOKE = ["--subset", "300", "--epochs", "1", "--experiment", "smoke"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Every image must have decoded (naturalWidth > 0) once the page has loaded.
IMAGES_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((image) => image.complete && image.naturalWidth > 0);
  document.body.dataset.imagesLoaded = loaded.length + "/" + images.length;
});
</script>"""


class _Page(HTMLParser):
    """Collects section ids, header cells, image sources and every src/href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.headers: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self._in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(values["id"] or "")
        if tag == "th":
            self._in_header = True
            self.headers.append("")
        if tag == "img":
            self.images.append(values["src"] or "")
        self.links += [value or "" for key, value in attrs if key in ("src", "href")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_header = False

    def handle_data(self, data: str) -> None:
        if self._in_header:
            self.headers[-1] += data


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("the report loaded or ran a model")


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory):
    """Two architectures trained into a fresh store, then one report; like `store`, per module."""
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert main(["run", "--arch", "basic", "mlp", *SMOKE]) == 0
        # The mistakes come from the logged test probabilities: loading or running a model fails.
        patch.setattr(tracking, "load_run_model", _must_not_run)
        patch.setattr(keras.Model, "predict", _must_not_run)
        code = main(
            ["report", "--experiment", "smoke", "--output", str(folder / "r"), "--ensemble-k", "2"]
        )
    return folder / "r" / "index.html", f"sqlite:///{folder / 'mlflow.db'}", code


def test_report_has_every_section_and_leaderboard_column(reported) -> None:
    path, uri, code = reported
    assert code == 0
    page = parse(path.read_text(encoding="utf-8"))
    assert page.sections == list(report.SECTIONS)
    experiment_id = tracking.connect(uri, "smoke", create=False)
    board = leaderboard.from_experiment(experiment_id, ensemble_k=2)
    assert page.headers == [str(column) for column in board.columns]
    text = path.read_text(encoding="utf-8")
    assert sorted(board["architecture"]) == ["basic", "ensemble", "mlp"]
    for row in board.itertuples():
        assert f"<td>{row.architecture}</td>" in text
    assert "--ensemble-k 2</code>" in text


def test_every_image_is_an_embedded_png(reported) -> None:
    path, _, _ = reported
    page = parse(path.read_text(encoding="utf-8"))
    # curves, Pareto, confusion matrices, F1 and mistakes (one epoch on 300 images errs)
    assert len(page.images) == 5
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1], validate=True)))
        assert image.format == "PNG"
        image.load()
        assert image.width > 300 and image.height > 150


def test_report_makes_no_external_requests(reported) -> None:
    path, _, _ = reported
    text = path.read_text(encoding="utf-8")
    page = parse(text)
    assert not page.tags & {"link", "iframe", "object", "embed"}
    assert "<script" not in text and "@import" not in text
    assert all(link.startswith(("data:", "#")) for link in page.links), page.links[:5]
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)


def test_mistakes_are_of_the_best_run_by_validation_accuracy(reported) -> None:
    path, uri, _ = reported
    runs = tracking.finished_training_runs(tracking.connect(uri, "smoke", create=False))
    best = runs.loc[runs["metrics.best_val_accuracy"].idxmax()]
    section = path.read_text(encoding="utf-8").split('<section id="mistakes">')[1]
    assert f"<b>{best['tags.arch']}</b> (run <code>{best.run_id}</code>)" in section
    wrong = re.search(r"gets (\d+) of (\d+) test images wrong", section)
    assert wrong and int(wrong[2]) == int(best["params.test_size"])
    recomputed = 1 - int(wrong[1]) / int(wrong[2])
    assert recomputed == pytest.approx(best["metrics.test_accuracy"], abs=1e-6)
    assert 'alt="misclassified test images"' in section  # built with no model (see fixture)


def test_report_is_logged_to_mlflow(reported) -> None:
    path, uri, _ = reported
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("smoke").experiment_id
    (run,) = client.search_runs([experiment_id], "tags.run_kind = 'report'")
    assert run.info.status == "FINISHED"
    run_id, scratch = run.info.run_id, str(path.parent.parent)
    assert {"index.html", "source_runs.txt"} <= {a.path for a in client.list_artifacts(run_id)}
    logged = Path(client.download_artifacts(run_id, "index.html", scratch))
    assert logged.read_bytes() == path.read_bytes()
    training = client.search_runs([experiment_id], "tags.run_kind = 'training'")
    sources = Path(client.download_artifacts(run_id, "source_runs.txt", scratch))
    assert set(sources.read_text().split()) == {r.info.run_id for r in training}


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # as root, where CI runs
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # any network request would fail
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_a_headless_browser(reported, tmp_path: Path) -> None:
    path, _, _ = reported
    probed = tmp_path / "probed.html"
    probed.write_text(
        path.read_text(encoding="utf-8").replace("</body>", IMAGES_PROBE + "</body>"),
        encoding="utf-8",
    )
    dumped = _chromium(
        "--virtual-time-budget=10000", "--dump-dom", probed.as_uri(), profile=tmp_path / "p1"
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    page = parse(dumped.stdout)
    assert page.sections == list(report.SECTIONS)
    assert re.search(r'data-images-loaded="5/5"', dumped.stdout), dumped.stdout[:300]

    shot = tmp_path / "shot.png"
    shown = _chromium(
        f"--screenshot={shot}", "--window-size=1400,4000", path.as_uri(), profile=tmp_path / "p2"
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (4000, 1400)
    assert (pixels < 128).mean() > 0.01, "the screenshot is almost blank"


def test_report_of_an_experiment_without_finished_runs_is_refused(store, capsys) -> None:
    tracking.connect(store, "empty")
    capsys.readouterr()  # MLflow's own lines about creating the store
    assert main(["report", "--experiment", "empty"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "no finished training runs in experiment 'empty'" in err
    assert len(err.strip().splitlines()) == 1
    assert not Path("reports").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report"], "no MLflow store at"),
        (["report", "--tracking-uri", "http://127.0.0.1:9"], "is unreachable"),
    ],
)
def test_report_bad_store_is_one_line(args: list[str], message: str, store, capsys) -> None:
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_report_of_an_unknown_experiment_is_refused(reported, capsys) -> None:
    _, uri, _ = reported
    assert main(["report", "--experiment", "never-run", "--tracking-uri", uri]) == 2
    assert "no experiment 'never-run'" in capsys.readouterr().err


def test_columns_are_formatted_whatever_they_are() -> None:
    board = pd.DataFrame(
        {
            "name": ["a", None],
            "params": [121994, 31626],
            "rank": pd.array([1, None], dtype="Int64"),
            "flops_per_image": [1.2e6, 3.0e5],
            "test_accuracy_mean": [0.99441, np.nan],
            "p_value": [0.0312, 2e-7],
            "latency_p50_ms": [12.346, 3.2],
            "distinguishable": [True, False],
        }
    )
    shown = {column: format_column(board[column]) for column in board}
    assert shown == {
        "name": ["a", "–"],
        "params": ["121,994", "31,626"],
        "rank": ["1", "–"],
        "flops_per_image": ["1,200,000", "300,000"],
        "test_accuracy_mean": ["0.9944", "–"],
        "p_value": ["0.0312", "2.0e-07"],
        "latency_p50_ms": ["12.35", "3.20"],
        "distinguishable": ["yes", "no"],
    }
    assert report.table(board).count("<tr>") == 3


def test_pareto_front_keeps_only_undominated_points() -> None:
    cost = np.array([1.0, 2.0, 3.0, 3.0, 5.0])
    accuracy = np.array([0.90, 0.95, 0.94, 0.97, 0.97])
    assert pareto_front(cost, accuracy).tolist() == [True, True, False, True, False]


def test_default_folder_is_under_reports() -> None:
    assert report.default_folder("smoke") == Path("reports/smoke")
    assert report.default_folder("team a/b") == Path("reports/team_a_b")


def _per_run_table(**overrides: object) -> pd.DataFrame:
    """Two runs as the results package's per-run table has them: 300-image subset, split seed 0."""
    table = pd.DataFrame(
        {
            "run_id": ["run-a", "run-b"],
            "arch": ["basic", "mlp"],
            "variant": ["default", "default"],
            "seed": [0, 0],
            "label": ["basic", "mlp"],
            "subset": [300, 300],
            "split_seed": [0, 0],
            "validation_fraction": [0.1, 0.1],
            "test_size": [150, 150],
            # mlp is better on the test set, basic on validation: validation picks basic.
            "test_accuracy": [0.96, 0.98],
            "best_val_accuracy": [0.95, 0.93],
        }
    )
    return table.assign(**overrides)


def _logged(y_true: np.ndarray, wrong_at: dict[int, float]) -> np.ndarray:
    """Right answers (0.91) except at the given indices: a wrong class with that probability."""
    probabilities = np.full((len(y_true), 10), 0.01, dtype=np.float32)
    probabilities[np.arange(len(y_true)), y_true] = 0.91
    for index, confidence in wrong_at.items():
        probabilities[index] = (1 - confidence) / 9
        probabilities[index, (y_true[index] + 1) % 10] = confidence
    return probabilities


def test_mistakes_come_from_the_logged_probabilities(tiny_splits, monkeypatch) -> None:
    y_test = tiny_splits.y_test
    probabilities = _logged(y_test, {3: 0.6, 40: 0.9, 77: 0.7})
    loaded = []
    monkeypatch.setattr(
        tracking,
        "load_test_probabilities",
        lambda run_id: loaded.append(run_id) or (probabilities, y_test.copy()),
    )
    monkeypatch.setattr(tracking, "load_run_model", _must_not_run)
    found = best_model_mistakes(_per_run_table(), limit=2)
    assert loaded == ["run-a"] and (found.run_id, found.label) == ("run-a", "basic")
    assert (found.wrong, found.test_size) == (3, len(y_test))
    assert found.confidence.tolist() == pytest.approx([0.9, 0.7])  # most confident first
    np.testing.assert_array_equal(found.images, tiny_splits.x_test[[40, 77]])
    np.testing.assert_array_equal(found.true, y_test[[40, 77]])
    np.testing.assert_array_equal(found.predicted, (y_test[[40, 77]] + 1) % 10)
    assert found.logged_accuracy == 0.96


def test_mistakes_refuse_labels_that_differ_from_the_logged_ones(tiny_splits, monkeypatch) -> None:
    y_logged = tiny_splits.y_test.copy()
    y_logged[0] = (y_logged[0] + 1) % 10  # one label differs: another split or another data set
    logged = (_logged(y_logged, {}), y_logged)
    monkeypatch.setattr(tracking, "load_test_probabilities", lambda run_id: logged)
    with pytest.raises(BenchmarkError) as error:
        best_model_mistakes(_per_run_table())
    message = str(error.value)
    assert "does not match the 150 labels logged by run run-a" in message
    assert len(message.splitlines()) == 1


def test_mistakes_of_a_run_without_probabilities_are_left_out(monkeypatch, caplog) -> None:
    monkeypatch.setattr(tracking, "load_test_probabilities", lambda run_id: None)
    logger = logging.getLogger(build.__name__)
    logger.addHandler(caplog.handler)  # also when the CLI's handler stops propagation
    try:
        section = build._mistakes(_per_run_table())
    finally:
        logger.removeHandler(caplog.handler)
    assert section.figure is None and section.mistakes is None
    assert (
        section.note == "left out: run run-a has no test_probabilities.npz artifact to read its "
        "mistakes from"
    )
    assert "report: mistakes left out: run run-a has no test_probabilities.npz" in caplog.text


def test_page_escapes_names_and_notes() -> None:
    sections = [
        report.Section("leaderboard", note="the leaderboard is empty"),
        report.Section("pareto", note="no run <b>logged</b> params"),
    ]
    text = report.render("<script>alert(1)</script>", 0, 0, "0123456789abcdef", sections)
    assert "<script" not in text
    assert "cnn-benchmark report: &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in text
    assert "no run &lt;b&gt;logged&lt;/b&gt; params" in text
    assert parse(text).sections == ["leaderboard", "pareto"]
    assert "<code>0123456789ab</code>" in text  # the commit, shortened to twelve characters


def test_pareto_figure_puts_accuracy_against_training_flops_next_to_seconds() -> None:
    from benchmark.figures.pareto import pareto_figure
    from benchmark.report import data as report_data

    per_run = _per_run_table(
        arch=["basic", "mlp"],
        train_seconds=[10.0, 4.0],
        params=[121_994.0, 100_000.0],
        train_flops_per_epoch=[1.0e12, np.nan],  # mlp logged without FLOPs
        epochs_run=[3.0, 2.0],
    )
    summary = report_data.summary(per_run)
    assert summary.set_index("label")["train_flops"]["basic"] == 3.0e12
    assert np.isnan(summary.set_index("label")["train_flops"]["mlp"])
    figure = pareto_figure(summary)
    seconds, flops = figure.axes[1], figure.axes[2]
    assert seconds.get_title() == "Accuracy against training time"
    assert flops.get_title() == "Accuracy against training FLOPs"
    assert "training FLOPs" in flops.get_xlabel()
    assert [text.get_text() for text in flops.texts] == ["basic"], "mlp has no FLOPs to show"
    assert sorted(text.get_text() for text in seconds.texts) == ["basic", "mlp"]
