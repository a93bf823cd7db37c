"""The champion in the model registry, image preprocessing and the predict command."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image, ImageDraw

from benchmark import tracking
from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.data.images import read_digit
from benchmark.results import champion, runs

SMOKE = ["--subset", "300", "--epochs", "1", "--experiment", "smoke"]
NAME = tracking.REGISTERED_MODEL
LINE = re.compile(r"^(?P<path>.+): (?P<digit>\d) \(p=(?P<p>\d\.\d{3})\)$")


def run_main(*args: str) -> tuple[int, str, str]:
    """main() in this process, with its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse refuses malformed input itself
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int, str]:
    """One smoke `run` of basic into a fresh store (like the `store` fixture, once per module)."""
    folder = tmp_path_factory.mktemp("champion")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        code, out, _ = run_main("run", "--arch", "basic", *SMOKE, "--tracking-uri", uri)
    return folder, uri, code, out


def versions(client: MlflowClient) -> list:
    return sorted(client.search_model_versions(f"name = '{NAME}'"), key=lambda v: int(v.version))


def draw_one(path: Path, size: tuple[int, int] = (200, 300)) -> Path:
    """A '1': a thick black vertical bar on white."""
    image = Image.new("RGB", size, "white")
    width, height = size
    ImageDraw.Draw(image).rectangle(
        [width * 0.42, height * 0.12, width * 0.58, height * 0.88], fill="black"
    )
    image.save(path)
    return path


# --- The champion in the registry --------------------------------------------------------------


def test_run_registers_the_best_run_as_champion_version_1(trained) -> None:
    _, uri, code, out = trained
    assert code == 0
    client = MlflowClient(uri)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("smoke").experiment_id], "tags.run_kind = 'training'"
    )
    (version,) = versions(client)
    assert str(version.version) == "1"
    assert version.run_id == run.info.run_id
    champion_version = client.get_model_version_by_alias(NAME, "champion")
    assert str(champion_version.version) == "1"
    assert version.tags == {
        "arch": "basic",
        "seed": "0",
        "best_val_accuracy": f"{run.data.metrics['best_val_accuracy']:.4f}",
        "test_accuracy": f"{run.data.metrics['test_accuracy']:.4f}",
        "subset": "300",
    }
    line = next(line for line in out.splitlines() if line.startswith("champion:"))
    assert re.fullmatch(
        rf"champion: basic seed 0 \(run {run.info.run_id}, val acc \d\.\d{{4}}, test acc "
        rf"\d\.\d{{4}}, 300-image subset\) registered as {NAME} version 1",
        line,
    ), line


def test_rerun_with_the_same_best_run_creates_no_new_version(trained) -> None:
    folder, uri, _, _ = trained
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        code, out, _ = run_main("run", "--arch", "basic", *SMOKE, "--tracking-uri", uri)
    assert code == 0
    assert "skipped" in out
    assert f"registered as {NAME} version 1 (unchanged)" in out
    assert [str(v.version) for v in versions(MlflowClient(uri))] == ["1"]


def log_fake_run(experiment_id: str, arch: str, subset: str, val: float, test: float) -> str:
    """A finished training run with an untrained tiny model: enough to test the choice."""
    import keras
    import mlflow

    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    tags = {"run_kind": "training", "arch": arch}
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        mlflow.log_params({"subset": subset, "seed": 0})
        mlflow.log_metrics({"best_val_accuracy": val, "test_accuracy": test})
        mlflow.keras.log_model(model, name="model", pip_requirements=["keras"])
    return run.info.run_id


def test_subset_runs_never_displace_a_full_data_champion(store: str) -> None:
    client = MlflowClient(store)
    full_experiment = tracking.connect(store, "full")
    full = log_fake_run(full_experiment, "basic", "0", val=0.90, test=0.91)
    log_fake_run(full_experiment, "mlp", "300", val=0.95, test=0.99)  # better, on a subset
    line = champion.crown(full_experiment)
    assert client.get_model_version_by_alias(NAME, "champion").run_id == full
    assert line.endswith(f"registered as {NAME} version 1") and "subset" not in line

    # Another experiment's subset runs meet the incumbent, and lose to it.
    smoke_experiment = tracking.connect(store, "smoke")
    log_fake_run(smoke_experiment, "lenet5", "300", val=0.99, test=0.99)
    assert champion.crown(smoke_experiment).endswith("version 1 (unchanged)")

    # A full-data run with a better validation accuracy wins, whatever its test accuracy.
    better = log_fake_run(smoke_experiment, "resnet", "0", val=0.93, test=0.50)
    assert "champion: resnet seed 0" in champion.crown(smoke_experiment)
    assert client.get_model_version_by_alias(NAME, "champion").run_id == better

    # With that run deleted the old champion is best again: its version gets the alias back.
    client.delete_run(better)
    assert champion.crown(full_experiment).endswith("version 1 (alias moved back to it)")
    assert [str(v.version) for v in versions(client)] == ["1", "2"]


def candidates(*rows: tuple[str, str, float, float, int]) -> pd.DataFrame:
    """Per-run rows of runs as tracking.finished_training_runs returns them (run_id, ...)."""
    return runs.table(
        pd.DataFrame(
            {
                "run_id": [row[0] for row in rows],
                "params.subset": [row[1] for row in rows],
                "metrics.best_val_accuracy": [row[2] for row in rows],
                "metrics.test_accuracy": [row[3] for row in rows],
                "start_time": pd.to_datetime([row[4] for row in rows], unit="s"),
                "tags.arch": "basic",
                "params.seed": "0",
            }
        )
    )


def test_choice_uses_validation_accuracy_then_newest() -> None:
    assert (
        champion.choose(candidates(("a", "0", 0.9, 0.99, 1), ("b", "0", 0.95, 0.9, 0))).run_id
        == "b"
    )
    tie = candidates(("old", "0", 0.95, 0.99, 1), ("new", "0", 0.95, 0.9, 2))
    assert champion.choose(tie).run_id == "new"
    nan = candidates(("nan", "0", float("nan"), 1.0, 3), ("ok", "300", 0.5, 0.5, 1))
    assert champion.choose(nan).run_id == "ok"
    unknown = candidates(("no-subset-param", None, 0.99, 0.99, 2), ("full", "0", 0.5, 0.5, 1))
    assert champion.choose(unknown).run_id == "full"
    assert champion.choose(pd.DataFrame()) is None


# --- Preprocessing -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_files(tiny_splits, tmp_path_factory) -> dict[str, list[Path]]:
    """The 150 test images as PNG (as-is), and inverted, upscaled to 280x280 as PNG and JPEG."""
    folder = tmp_path_factory.mktemp("mnist-files")
    files: dict[str, list[Path]] = {"png": [], "big_png": [], "big_jpg": []}
    for index, image in enumerate(tiny_splits.x_test):
        Image.fromarray(image).save(folder / f"{index}.png")
        big = Image.fromarray(255 - image).resize((280, 280), Image.Resampling.BICUBIC)
        big.save(folder / f"{index}-big.png")
        big.save(folder / f"{index}-big.jpg", quality=90)
        files["png"].append(folder / f"{index}.png")
        files["big_png"].append(folder / f"{index}-big.png")
        files["big_jpg"].append(folder / f"{index}-big.jpg")
    return files


def test_an_mnist_png_round_trips_almost_exactly(mnist_files, tiny_splits) -> None:
    restored = np.stack([read_digit(path) for path in mnist_files["png"]])
    assert restored.shape == tiny_splits.x_test.shape and restored.dtype == np.uint8
    difference = np.abs(restored.astype(float) - tiny_splits.x_test).mean(axis=(1, 2))
    assert difference.mean() < 0.5, difference.mean()  # grey levels, of 0..255


@pytest.mark.parametrize("kind", ["big_png", "big_jpg"])
def test_an_inverted_upscaled_mnist_digit_comes_back_as_itself(
    kind: str, mnist_files, tiny_splits
) -> None:
    """Black on white at 10x: the result is closer to its own original than to any other."""
    original = tiny_splits.x_test.reshape(len(tiny_splits.x_test), -1).astype(float)
    restored = np.stack([read_digit(path) for path in mnist_files[kind]])
    restored = restored.reshape(len(restored), -1).astype(float)
    distances = ((restored[:, None, :] - original[None, :, :]) ** 2).sum(axis=2)
    assert (distances.argmin(axis=1) == np.arange(len(original))).mean() >= 0.95
    correlation = [np.corrcoef(a, b)[0, 1] for a, b in zip(restored, original, strict=True)]
    assert np.mean(correlation) > 0.9


def test_the_model_predicts_round_tripped_digits_like_the_originals(
    trained, mnist_files, tiny_splits
) -> None:
    from benchmark.data.splits import to_model_input

    _, uri, _, _ = trained
    model = tracking.load_model(uri)
    restored = np.stack([read_digit(path) for path in mnist_files["big_jpg"]])
    before = model.predict(to_model_input(tiny_splits.x_test), verbose=0).argmax(axis=1)
    after = model.predict(to_model_input(restored), verbose=0).argmax(axis=1)
    assert (before == after).mean() >= 0.85


def test_a_tall_bar_fits_20_pixels_centred_by_mass(tmp_path) -> None:
    digit = read_digit(draw_one(tmp_path / "one.png"))
    rows, cols = np.nonzero(digit.any(axis=1))[0], np.nonzero(digit.any(axis=0))[0]
    assert rows[-1] - rows[0] + 1 == 20
    assert cols[-1] - cols[0] + 1 <= 5  # a 32x228 bar keeps its aspect ratio
    ys, xs = np.indices(digit.shape)
    mass = digit.astype(float).sum()
    assert abs((ys * digit).sum() / mass - 14) <= 0.5
    assert abs((xs * digit).sum() / mass - 14) <= 0.5


def test_transparency_colour_grey_paper_and_16_bit_give_the_same_digit(tmp_path) -> None:
    reference = read_digit(draw_one(tmp_path / "one.png"))
    gray = np.asarray(Image.open(tmp_path / "one.png").convert("L"))
    ink = gray < 128
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[ink] = (0, 0, 0, 255)  # black ink on a fully transparent background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.where(ink, 255, 0).astype(np.uint8)).save(tmp_path / "white-on-black.png")
    Image.fromarray(np.where(ink, 60, 200).astype(np.uint8)).save(tmp_path / "grey-paper.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "sixteen-bit.png")
    for name in ("rgba.png", "white-on-black.png", "grey-paper.png", "sixteen-bit.png"):
        difference = np.abs(read_digit(tmp_path / name).astype(int) - reference)
        assert difference.mean() < 1, name  # grey levels, of 0..255


# --- The predict command -------------------------------------------------------------------------


def test_predict_prints_path_digit_and_probability(trained, tmp_path) -> None:
    _, uri, _, _ = trained
    png = draw_one(tmp_path / "one.png")
    jpg = tmp_path / "one.jpg"
    Image.open(png).save(jpg, quality=85)
    code, out, err = run_main("predict", str(png), str(jpg), "--tracking-uri", uri)
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert [LINE.match(line)["path"] for line in lines] == [str(png), str(jpg)]
    assert all(0.0 <= float(LINE.match(line)["p"]) <= 1.0 for line in lines)


def test_predict_with_a_run_model_uri(trained, tmp_path) -> None:
    _, uri, _, _ = trained
    run_id = MlflowClient(uri).get_model_version_by_alias(NAME, "champion").run_id
    png = draw_one(tmp_path / "one.png")
    code, out, _ = run_main(
        "predict", str(png), "--tracking-uri", uri, "--model", f"runs:/{run_id}/model"
    )
    assert code == 0 and LINE.match(out.strip())


def test_predict_reports_bad_files_and_still_predicts_the_good_ones(trained, tmp_path) -> None:
    _, uri, _, _ = trained
    png = draw_one(tmp_path / "one.png")
    code, out, err = run_main("predict", str(png), "missing.png", "--tracking-uri", uri)
    assert code == EXIT_USER_ERROR
    assert LINE.match(out.strip())["path"] == str(png)
    assert err == "error: missing.png: no such file\n"


def bad_file(kind: str, folder: Path) -> Path:
    if kind == "text":
        (folder / "notes.png").write_text("not a picture\n")
        return folder / "notes.png"
    if kind == "blank":
        Image.new("RGB", (200, 300), "white").save(folder / "blank.png")
        return folder / "blank.png"
    if kind == "truncated":
        data = draw_one(folder / "whole.png").read_bytes()
        (folder / "cut.png").write_bytes(data[: len(data) // 2])
        return folder / "cut.png"
    if kind == "directory":
        return folder
    return folder / "nope.png"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file"),
        ("text", "not an image Pillow can read"),
        ("blank", "no digit found (the image is blank)"),
        ("truncated", "could not read the image (image file is truncated)"),
        ("directory", "is a directory"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(kind: str, message: str, tmp_path) -> None:
    path = bad_file(kind, tmp_path)
    code, out, err = run_main("predict", str(path))
    assert code == EXIT_USER_ERROR and out == ""
    assert err.startswith(f"error: {path}: {message}")
    assert len(err.splitlines()) == 1, err


def test_predict_without_a_champion_says_what_to_run(store: str, tmp_path) -> None:
    png = draw_one(tmp_path / "one.png")
    code, _, err = run_main("predict", str(png))
    assert code == EXIT_USER_ERROR
    assert "no MLflow store at" in err and "python -m benchmark run" in err
    tracking.connect(store, "empty")  # a store with no registered model
    code, _, err = run_main("predict", str(png), "--tracking-uri", store)
    assert code == EXIT_USER_ERROR
    assert err.startswith("error: no champion model in") and "python -m benchmark run" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_main("predict", str(png), "--tracking-uri", "http://127.0.0.1:9")
    assert code == EXIT_USER_ERROR and "is unreachable" in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_file_in_a_real_process_has_no_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmark", "predict", "nope.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EXIT_USER_ERROR
    assert result.stderr == "error: nope.png: no such file\n"
    assert "Traceback" not in result.stdout + result.stderr
