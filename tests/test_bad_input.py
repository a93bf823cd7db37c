"""Bad input across the commands: one line, a non-zero exit, no traceback, nothing trained.

Each row is a command line and a fragment of the one line it must print. `{tmp}` is a fresh
folder (the working directory), `{file}` a text file, `{empty}` an empty file there; `{blank}`
is an empty argument, `{spaces}` two spaces and `{long}` 501 characters.
"""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import architectures
from benchmark import logs
from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.training import hardware
from tests.conftest import in_fresh_process

BAD_INPUT = [
    # (command line, fragment of the one-line message)
    ("", "the following arguments are required: command"),
    ("train --all", "invalid choice: 'train'"),
    ("-q -v list", "not allowed with argument"),
    ("list --all", "unrecognized arguments: --all"),
    # run
    ("run", "one of the arguments --all --arch is required"),
    ("run --arch nosuch", "unknown architecture 'nosuch'; choose from: augmented"),
    ("run --arch basic nosuch", "unknown architecture 'nosuch'"),
    ("run --arch Basic", "unknown architecture 'Basic'"),
    ("run --all --arch basic", "not allowed with argument"),
    ("run --arch", "expected at least one argument"),
    ("run --all --epochs 0", "--epochs: must be a positive whole number, got 0"),
    ("run --all --epochs -3", "--epochs: must be a positive whole number, got -3"),
    ("run --all --epochs two", "--epochs: expected a whole number, got 'two'"),
    ("run --all --epochs 1.5", "--epochs: expected a whole number, got '1.5'"),
    ("run --all --batch-size 0", "--batch-size: must be a positive whole number"),
    ("run --all --seed -1", "--seed: must be 0 or more, got -1"),
    ("run --all --seed x", "--seed: expected a whole number"),
    ("run --all --seeds 0", "--seeds: must be 1 to 10000, got 0"),
    ("run --all --seeds 10001", "--seeds: must be 1 to 10000, got 10001"),
    ("run --all --seed 4294967296", "--seed: must be 0 to 4294967295 (2^32 - 1), got 4294967296"),
    ("run --all --seed 4294967295 --seeds 2", "not allowed with argument"),
    ("run --all --epochs 9223372036854775808", "--epochs: must be at most 9223372036854775807"),
    ("run --all --batch-size 9223372036854775808", "--batch-size: must be at most "
     "9223372036854775807 (2^63 - 1)"),
    ("run --all --jobs 9223372036854775808", "--jobs: must be at most 9223372036854775807"),
    ("run --all --ensemble-k 9223372036854775808", "--ensemble-k: must be at most"),
    ("run --all --experiment {blank}", "--experiment: must name an experiment, got ''"),
    ("run --all --experiment {spaces}", "--experiment: must name an experiment, got '  '"),
    ("run --all --experiment {long}", "--experiment: must be at most 500 characters (MLflow's "
     "limit), got 501"),
    ("run --all --tracking-uri garbage://x", "--tracking-uri: scheme 'garbage' is not a tracking "
     "store MLflow supports; use sqlite:///FILE.db, http(s)://HOST:PORT"),
    ("run --all --jobs 0", "--jobs: must be a positive whole number, got 0"),
    ("run --all --jobs many", "--jobs: expected a whole number or auto, got 'many'"),
    ("run --all --seed 1 --seeds 2", "not allowed with argument"),
    ("run --all --subset 0", "--subset: must be between 10 (one image per class) and 54000"),
    ("run --all --subset 9", "--subset: must be between 10"),
    ("run --all --subset 54001", "got 54001"),
    ("run --all --subset 99999", "(training images left after the validation split)"),
    ("run --all --subset lots", "--subset: expected a whole number"),
    ("run --all --params worst", "--params: invalid choice: 'worst'"),
    ("run --all --params notebook", "--params notebook is a protocol of basic only, not of"),
    ("run --arch mlp --params notebook", "not of mlp; use it with --arch basic"),
    ("run --arch basic --params wide", "not of basic; use it with --arch augmented"),
    ("run --all --ensemble-k 0", "--ensemble-k: must be a positive whole number"),
    ("run --all --early-stopping --no-early-stopping", "not allowed with argument"),
    ("run --all --study-name s", "--study-name names one study; use it with one --arch"),
    ("run --arch basic mlp --study-name s", "--study-name names one study"),
    ("run --all --frobnicate", "unrecognized arguments: --frobnicate"),
    ("run --all --experiment", "--experiment: expected one argument"),
    ("run --all --precision fp16", "--precision: invalid choice: 'fp16'"),
    ("run --all --target-accuracy 0", "--target-accuracy: must be above 0 and at most 1"),
    ("run --all --target-accuracy 1.01", "at most 1 (a fraction, 0.99 for 99%), got 1.01"),
    ("run --all --target-accuracy 99", "--target-accuracy: must be above 0 and at most 1"),
    ("run --all --target-accuracy -0.5", "--target-accuracy: must be above 0"),
    ("run --all --target-accuracy nan", "--target-accuracy: must be above 0 and at most 1"),
    ("run --all --target-accuracy high", "--target-accuracy: expected a number, got 'high'"),
    ("run --all --target-accuracy 0.99 --early-stopping", "drop --early-stopping"),
    ("tune --arch basic --target-accuracy 0.99", "unrecognized arguments: --target-accuracy"),
    ("run --all --precision", "--precision: expected one argument"),
    ("run --all --max-retries -1", "--max-retries: must be 0 or more, got -1"),
    ("run --all --max-retries x", "--max-retries: expected a whole number, got 'x'"),
    ("run --all --heartbeat 0", "--heartbeat: must be 1 to 86400 seconds (a day)"),
    # worker and status
    ("worker --wait --max-retries 1", "unrecognized arguments: --max-retries 1"),
    ("worker --heartbeat 2", "unrecognized arguments: --heartbeat 2"),
    ("status --wait", "unrecognized arguments: --wait"),
    # tune
    ("tune", "the following arguments are required: --arch"),
    ("tune --arch nosuch", "unknown architecture 'nosuch'"),
    ("tune --arch basic mlp", "unrecognized arguments: mlp"),
    ("tune --arch basic --trials 0", "--trials: must be a positive whole number"),
    ("tune --arch basic --trials -5", "--trials: must be a positive whole number, got -5"),
    ("tune --arch basic --timeout 0", "--timeout: must be a positive whole number"),
    ("tune --arch basic --pruner sometimes", "--pruner: invalid choice: 'sometimes'"),
    ("tune --arch basic --sampler grid", "--sampler: invalid choice: 'grid'"),
    ("tune --arch basic --workers 0", "--workers: must be a positive whole number"),
    ("tune --arch basic --epochs 0", "--epochs: must be a positive whole number"),
    ("tune --arch basic --subset 5", "--subset: must be between 10"),
    ("tune --arch basic --subset 60000", "got 60000"),
    ("tune --arch basic --seed -1", "--seed: must be 0 or more, got -1"),
    ("tune --arch basic --seed 1e3", "--seed: expected a whole number, got '1e3'"),
    ("tune --arch basic --heartbeat 0", "--heartbeat: must be 1 to 86400 seconds (a day)"),
    ("tune --arch basic --heartbeat 86401", "--heartbeat: must be 1 to 86400 seconds (a day)"),
    ("tune --arch basic --seed 4294967296", "--seed: must be 0 to 4294967295 (2^32 - 1)"),
    ("tune --arch basic --timeout 9223372036854775808", "--timeout: must be at most"),
    ("tune --arch basic --trials 9223372036854775808", "--trials: must be at most"),
    ("tune --arch basic --workers 9223372036854775808", "--workers: must be at most"),
    ("tune --arch basic --experiment {blank}", "--experiment: must name an experiment"),
    ("tune --arch basic --tracking-uri s3://bucket", "scheme 's3' is not a tracking store"),
    ("tune --arch basic --max-failures 0", "--max-failures: must be a positive whole number"),
    ("tune --arch basic --max-failures x", "--max-failures: expected a whole number"),
    ("tune --arch basic --all", "unrecognized arguments: --all"),
    ("tune --arch basic --precision half", "--precision: invalid choice: 'half'"),
    # leaderboard
    ("leaderboard --format json", "--format: invalid choice: 'json'"),
    ("leaderboard --ensemble-k 0", "--ensemble-k: must be a positive whole number"),
    ("leaderboard --ensemble-k -2", "--ensemble-k: must be a positive whole number, got -2"),
    ("leaderboard --bogus", "unrecognized arguments: --bogus"),
    ("leaderboard --rank-by speed", "--rank-by: invalid choice: 'speed'"),
    ("leaderboard --seed 1", "unrecognized arguments: --seed 1"),
    ("leaderboard --tracking-uri sqlite:///{tmp}/missing.db", "no MLflow store at"),
    ("leaderboard --tracking-uri sqlite:////no/such/dir/m.db", "does not exist"),
    ("leaderboard --tracking-uri garbage://x", "scheme 'garbage' is not a tracking store"),
    ("leaderboard --experiment {long}", "--experiment: must be at most 500 characters"),
    # report
    ("report --output /proc/nope", "report folder (--output) /proc/nope is not writable"),
    ("report --output {file}/sub", "is not a folder"),
    ("report --ensemble-k 0", "--ensemble-k: must be a positive whole number"),
    ("report --experiment", "--experiment: expected one argument"),
    ("report --experiment {blank}", "--experiment: must name an experiment"),
    ("report --format csv", "unrecognized arguments: --format csv"),
    ("report --tracking-uri sqlite:///{tmp}/missing.db", "no MLflow store at"),
    # predict
    ("predict", "the following arguments are required: IMAGE"),
    ("predict {tmp}/missing.png", "missing.png: no such file"),
    ("predict {tmp}", "is a directory, not an image"),
    ("predict {file}", "not an image Pillow can read"),
    ("predict {empty}", "not an image Pillow can read"),
    ("predict {huge}", "400,000,000 pixels, over Pillow's pixel limit of 178,956,970 pixels"),
    ("predict --model", "--model: expected one argument"),
    ("predict a.png --subset 3", "unrecognized arguments: --subset 3"),
    ("predict a.png --precision float32", "unrecognized arguments: --precision float32"),
    ("predict a.png --dataset nosuchset", "unknown dataset 'nosuchset'; choose from: mnist"),
    ("predict a.png --tracking-uri garbage://x", "scheme 'garbage' is not a tracking store"),
    # datasets: refused before any training, nothing written to MLflow
    ("run --arch basic --dataset nosuchset", "unknown dataset 'nosuchset'; choose from: mnist, "
     "digits, fashion_mnist, cifar10, cifar100, or give a folder"),
    ("run --arch basic --dataset {tmp}/nowhere", "nowhere: no such folder or file"),
    ("run --arch basic --dataset {tmp}/missing.npz", "missing.npz: no such file"),
    ("run --arch basic --dataset {file}", "not a folder of images nor an .npz file"),
    ("run --arch basic --dataset {data}/empty", "no class sub-folders"),
    ("run --arch basic --dataset {data}/oneclass", "one class only (cats)"),
    ("run --arch basic --dataset {data}/unreadable", "class folder 'dogs' has no readable image"),
    ("run --arch basic --dataset {data}/nokey.npz", "nokey.npz: missing y_test"),
    ("run --arch basic --dataset {data}/badlabels.npz", "y_train has label 7, out of range"),
    ("run --arch basic --dataset {data}/negative.npz", "y_test has label -1; labels start at 0"),
    ("run --arch basic lenet5 --dataset {data}/tiny", "(4x4x1) are too small for every "
     "architecture asked for (basic, lenet5)"),
    ("run --arch basic --dataset digits --subset 5000", "subset must be between 10 (one image "
     "per class) and 1293"),
    ("run --arch basic --dataset digits --image-size 8x8", "--image-size and --color apply to "
     "a folder of images only"),
    ("run --arch basic --dataset {data}/tiny --image-size 8by8", "--image-size: expected "
     "HEIGHTxWIDTH"),
    ("run --arch basic --dataset {data}/tiny --image-size 0x8", "each 1 to 4096 pixels"),
    ("run --arch basic --dataset {data}/tiny --color blue", "--color: invalid choice: 'blue'"),
    ("tune --arch basic --dataset nosuchset", "unknown dataset 'nosuchset'"),
    ("tune --arch lenet5 --dataset digits", "cannot tune lenet5 on digits: it needs images "
     "larger than 8x8x1"),
    ("leaderboard --dataset nosuchset", "unknown dataset 'nosuchset'"),
    ("report --dataset {tmp}/missing.npz", "missing.npz: no such file"),
]  # fmt: skip
# On hardware without native bfloat16 (tests/test_precision.py pretends to be such a CPU
# anywhere), asking for it is refused, naming what auto would pick.
if not hardware.cpu_info()[1] & {"avx512_bf16", "amx_bf16"} and not hardware.gpu_driver_present():
    BAD_INPUT += [
        ("run --all --precision bfloat16", "no native bfloat16 (CPU flag avx512_bf16"),
        ("tune --arch basic --precision bfloat16", "--precision auto would pick float32"),
    ]
if not hardware.gpu_driver_present():  # float16 is for GPUs of compute capability 7.0+
    BAD_INPUT += [("run --all --precision float16", "float16 needs a GPU of compute capability")]


def make_datasets(folder: Path) -> None:
    """Small broken datasets under folder/data, one per way a dataset can be wrong."""
    data = folder / "data"
    (data / "empty").mkdir(parents=True)
    picture = np.full((6, 6), 200, dtype=np.uint8)
    for name, classes in (("oneclass", ["cats"]), ("unreadable", ["cats", "dogs"])):
        for label in classes:
            (data / name / label).mkdir(parents=True)
        for index in range(6):
            Image.fromarray(picture).save(data / name / "cats" / f"{index}.png")
    (data / "unreadable" / "dogs" / "dog.png").write_bytes(b"not an image")
    for label in ("a", "b"):  # 4x4: larger than nothing, too small for basic and lenet5
        (data / "tiny" / label).mkdir(parents=True)
        for index in range(20):
            Image.fromarray(np.full((4, 4), 10 * index, np.uint8)).save(
                data / "tiny" / label / f"{index}.png"
            )
    x, y = np.zeros((10, 8, 8), np.uint8), np.arange(10) % 2
    np.savez(data / "nokey.npz", x_train=x, y_train=y, x_test=x)
    np.savez(
        data / "badlabels.npz",
        x_train=x,
        y_train=y * 7,
        x_test=x,
        y_test=y,
        class_names=["no", "yes"],
    )
    np.savez(data / "negative.npz", x_train=x, y_train=y, x_test=x, y_test=y - 1)


def huge_png_header(width: int, height: int) -> bytes:
    """A grey PNG's header claiming width x height pixels, with one row of data: 99 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    row = zlib.compress(b"\0" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


def command_line(text: str, folder: Path) -> list[str]:
    """The row's arguments with its placeholders filled in for `folder`."""
    (folder / "notes.png").write_text("not an image\n")
    (folder / "empty.png").write_bytes(b"")
    if "{data}" in text:
        make_datasets(folder)
    (folder / "huge.png").write_bytes(huge_png_header(20_000, 20_000))
    places = {"tmp": folder, "file": folder / "notes.png", "empty": folder / "empty.png"}
    places["huge"] = folder / "huge.png"
    places.update(data=folder / "data", blank="", spaces="  ", long="x" * 501)
    return [part.format(**places) for part in text.split()]


def test_the_table_holds_sixty_distinct_bad_inputs_over_every_command() -> None:
    lines = [line for line, _ in BAD_INPUT]
    assert len(set(lines)) == len(lines) >= 60
    commands = {line.split()[0] for line in lines if line and not line.startswith("-")}
    assert {"run", "tune", "leaderboard", "report", "predict"} <= commands


@pytest.mark.parametrize(("line", "fragment"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_is_one_line_and_a_non_zero_exit(line, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCHMARK_DATA_DIR", str(tmp_path / "data-cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        code = main(command_line(line, tmp_path))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == EXIT_USER_ERROR
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out
    assert not {"mlflow.db", "optuna.db", "mlruns"} & set(os.listdir(tmp_path)), "nothing made"


CHECKED_BEFORE_LOADING = [
    "run --arch nosuch",
    "run --all --subset 99999",
    "run --all --seed -1",
    "run --all --seed 4294967296",
    "run --all --experiment {blank}",
    "run --all --tracking-uri garbage://x",
    "run --all --target-accuracy 2",
    "tune --arch nope",
    "tune --arch basic --seed -1",
    "tune --arch basic --seed 4294967296",
    "tune --arch basic --experiment {long}",
    "tune --arch basic --subset 54001",
    "report --output /proc/nope",
    "leaderboard --ensemble-k 0",
    "predict {tmp}/missing.png",
    "run --arch basic --dataset nosuchset",
    "run --arch basic --dataset {tmp}/nowhere",
    "run --arch basic --dataset digits --image-size 8x8",
    "leaderboard --dataset nosuchset",
]


def test_arguments_are_checked_before_tensorflow_or_mlflow_load(tmp_path) -> None:
    """In a fresh process: every refusal comes before either library is imported."""
    lines = [command_line(line, tmp_path) for line in CHECKED_BEFORE_LOADING]
    script = (
        "from benchmark.cli import main\n"
        f"for args in {lines!r}:\n"
        "    try:\n        assert main(args) == 2, args\n"
        "    except SystemExit as exit_:\n        assert exit_.code == 2, args\n"
    )
    _, loaded = in_fresh_process(script, tmp_path)
    assert loaded == []
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    "line",
    ["run --arch nosuch", "tune --arch basic --seed -1", "report --output /proc/nope",
     "run --all --subset 0", "predict {tmp}/missing.png"],
)  # fmt: skip
def test_a_real_process_prints_one_line_and_no_traceback(line, tmp_path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", *command_line(line, tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_USER_ERROR
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr + done.stdout and done.stdout == ""


def test_the_static_names_are_the_registry() -> None:
    """`architectures.NAMES` (checked without Keras) lists every module and its registration."""
    modules = {
        path.stem
        for path in Path(architectures.__file__).parent.glob("*.py")
        if path.stem not in {"__init__", "registry", "common"}
    }
    assert set(architectures.NAMES) == modules
    assert architectures.names()[: len(architectures.NAMES)] == list(architectures.NAMES)
    for name in architectures.NAMES:
        assert architectures.get(name).build.__module__ == f"architectures.{name}"


@pytest.mark.parametrize("verbosity", [0, 1])
def test_other_libraries_lines_and_warnings_show_only_when_verbose(verbosity, capsys) -> None:
    logging.captureWarnings(False)  # pytest resets what an earlier setup() installed
    logs.setup(verbosity)
    try:
        logging.getLogger("mlflow.store.db.utils").info("Creating initial MLflow database tables")
        logging.getLogger("alembic.runtime.migration").warning("alembic chatter")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("Image size exceeds limit, decompression bomb DOS attack", stacklevel=1)
    finally:
        logs.setup(0)
    out, err = capsys.readouterr()
    assert "Creating initial MLflow" not in out + err, "an info line of MLflow never shows"
    if verbosity:
        assert "alembic chatter" in out and "decompression bomb" in out
    else:
        assert out + err == ""


def test_the_tracking_schemes_are_mlflows() -> None:
    """The schemes settings accept without importing MLflow are the tracking stores it builds."""
    from mlflow.tracking._tracking_service import utils

    from benchmark.settings.defaults import TRACKING_SCHEMES

    unity_catalog = {"databricks-uc", "uc"}  # registered, but refused by the client itself
    assert set(utils._tracking_store_registry._registry) - unity_catalog == {"", *TRACKING_SCHEMES}


def test_an_unsupported_scheme_in_the_environment_names_the_tracking_store(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "garbage://x")
    assert main(["leaderboard"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: tracking URI garbage://x: scheme 'garbage' is not a tracking")
    assert "registry" not in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


def test_a_server_reached_with_user_and_password_is_accepted(
    mlflow_server: str, tmp_path, monkeypatch, capsys
) -> None:
    """MLflow's client sends user:password@ as HTTP basic auth; the reachability probe must too
    (a server without auth ignores them). It called such a server unreachable."""
    from mlflow.tracking import MlflowClient

    from benchmark import tracking

    with_password = mlflow_server.replace("http://", "http://alice:s3cr%40t@")
    experiment_id = tracking.connect(with_password, "with-credentials")
    assert MlflowClient(mlflow_server).get_experiment(experiment_id).name == "with-credentials"
    monkeypatch.chdir(tmp_path)
    args = ["leaderboard", "--tracking-uri", with_password, "--experiment", "with-credentials"]
    code = main(args)
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "no finished runs in experiment" in err, err
    assert "s3cr" not in err


@pytest.mark.parametrize(
    ("host", "reason"),
    [("no-such-host.invalid:5000", "unreachable ("), ("127.0.0.1:{port}", "Connection refused")],
    ids=["unknown host", "nothing listening"],
)
def test_a_wrong_host_with_credentials_is_one_line_naming_the_host(
    host, reason, tmp_path, monkeypatch, capsys
) -> None:
    from tests.conftest import free_port

    uri = f"http://alice:s3cr%40t@{host.format(port=free_port())}"
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", "--tracking-uri", uri]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert reason in err and "tracking server http://alice:***@" in err, err
    assert "s3cr" not in err and len(err.strip().splitlines()) == 1, err
