"""Datasets other than MNIST: the registry, folders, .npz files, digits and Keras's datasets."""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

import architectures
from benchmark.data.dataset import array_digest
from benchmark.data.sources import Request, load, names
from benchmark.data.sources import folder as folder_source
from benchmark.data.sources.keras_builtin import CIFAR10_CLASSES, FASHION_CLASSES
from benchmark.data.splits import make_splits
from benchmark.errors import BenchmarkError
from benchmark.settings import DATASETS
from tests.conftest import in_process, logged_messages


@pytest.fixture(autouse=True)
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Folder datasets are cached under the test's own folder, not the user's cache."""
    cache = tmp_path / "data-cache"
    monkeypatch.setenv("BENCHMARK_DATA_DIR", str(cache))
    return cache


def write_pngs(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """One PNG per image in root/<label>/<index>.png (index zero-padded: sorted = in order)."""
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}.png")


def by_class(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order a folder is read in: class by class, each in its files' order."""
    order = np.argsort(labels, kind="stable")
    return images[order], labels[order]


@pytest.fixture
def mnist_folder(tmp_path: Path, tiny_splits) -> Path:
    """300 training and 150 test MNIST digits (stratified) as PNGs in train/ and test/."""
    root = tmp_path / "mnist-pngs"
    write_pngs(root / "train", tiny_splits.x_train, tiny_splits.y_train)
    write_pngs(root / "test", tiny_splits.x_test, tiny_splits.y_test)
    return root


def test_the_static_names_are_the_registry() -> None:
    assert set(names()) == {*DATASETS, "folder", "npz"}


def test_mnist_keeps_its_digest_and_configuration_hashes(mnist, tiny_splits) -> None:
    """Runs stored before datasets existed keep counting as finished."""
    from benchmark.training import identity

    data = load(Request("mnist", cache_dir=mnist.cache_dir))
    assert data.x_train.shape == (60000, 28, 28, 1)
    assert data.digest[:12] == make_splits(*mnist.arrays).digest
    extra = {"subset": 300, "early_stopping": False}
    payload = {"arch": "basic", "params": {"epochs": 1}, "seed": 0, "data": tiny_splits.digest}
    payload |= {**tiny_splits.sizes, **extra}
    before = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    got = identity.config_hash("basic", {"epochs": 1}, 0, tiny_splits, **extra)
    assert got == before.hexdigest()[:16]


def test_a_folder_of_mnist_pngs_reads_back_the_same_pixels(mnist_folder, tiny_splits) -> None:
    data = load(Request(str(mnist_folder)))
    x_train, y_train = by_class(tiny_splits.x_train, tiny_splits.y_train)
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)
    np.testing.assert_array_equal(data.y_train, y_train)
    assert data.class_names == tuple(str(digit) for digit in range(10))
    assert data.test_split == "test/ folder" and len(data.y_test) == len(tiny_splits.y_test)
    # The same arrays as an .npz file are the same dataset: same digest, same splits.
    npz = mnist_folder.parent / "same.npz"
    np.savez(
        npz, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test
    )
    assert load(Request(str(npz))).digest == data.digest


def test_a_folder_dataset_runs_end_to_end(mnist_folder, store, tmp_path, monkeypatch, capsys):
    args = ["run", "--arch", "basic", "--epochs", "1", "--dataset", str(mnist_folder)]
    done = in_process(*args, "--tracking-uri", store, cwd=tmp_path, monkeypatch=monkeypatch,
                      capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("cnn-benchmark-mnist-pngs")
    assert experiment is not None, "a folder's runs get their own experiment"
    (run,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.run_kind = 'training'"
    )
    params, tags = run.data.params, run.data.tags
    assert params["dataset"] == "mnist-pngs" and params["input_shape"] == "28x28x1"
    assert params["num_classes"] == "10" and params["test_split"] == "test/ folder"
    assert (params["train_size"], params["val_size"], params["test_size"]) == ("270", "30", "150")
    assert params["dataset_digest"] == tags["dataset_digest"]
    assert json.loads(tags["class_names"]) == [str(digit) for digit in range(10)]
    assert run.inputs.dataset_inputs[0].dataset.digest == params["dataset_digest"]
    versions = client.search_model_versions("name = 'cnn-benchmark-mnist-pngs'")
    assert [version.run_id for version in versions] == [run.info.run_id]


def rgb_folder(root: Path) -> Path:
    """3 classes of random colour images, most 20x24, some 30x30, and one corrupt file."""
    rng = np.random.default_rng(0)
    for name in ("cat", "dog", "fox"):
        (root / name).mkdir(parents=True)
        for index in range(12):
            size = (20, 24) if index % 3 else (30, 30)
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    return root


def test_an_rgb_folder_of_mixed_sizes_is_resized_to_three_channels(tmp_path) -> None:
    root = rgb_folder(tmp_path / "pets")
    with logged_messages() as messages:
        data = load(Request(str(root)))
    assert data.class_names == ("cat", "dog", "fox")
    assert data.image_shape == (20, 24, 3), "the most common size, colour kept"
    assert len(data.y_train) + len(data.y_test) == 36
    assert data.test_split == "held out 20% stratified, seed 0"
    assert sorted(np.bincount(data.y_test).tolist()) == [2, 3, 3]
    skipped = [line for line in messages if "broken.png" in line]
    assert len(skipped) == 1 and "skipped" in skipped[0]
    with logged_messages() as messages:
        again = load(Request(str(root)))
    assert again.digest == data.digest and any("from the cache" in m for m in messages)
    grey = load(Request(str(root), image_size=(16, 16), color="grayscale"))
    assert grey.image_shape == (16, 16, 1) and grey.digest != data.digest
    splits = make_splits(data.x_train, data.y_train, data.x_test, data.y_test)
    assert splits.input_shape == (20, 24, 3) and splits.num_classes == 3


def test_a_folder_that_would_not_fit_in_memory_is_refused(tmp_path, monkeypatch) -> None:
    root = rgb_folder(tmp_path / "pets")
    monkeypatch.setattr(folder_source, "available_memory", lambda: 10_000)
    with pytest.raises(BenchmarkError, match="need about .* GiB, more than half"):
        load(Request(str(root)))


def test_an_npz_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, (40, 10, 12), dtype=np.uint8)
    x_test = rng.integers(0, 256, (10, 10, 12), dtype=np.uint8)
    y_train, y_test = np.arange(40) % 4, np.arange(10) % 4
    path = tmp_path / "My Shapes.npz"
    names = np.array(["circle", "square", "star", "line"])
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    np.savez(path, **arrays, class_names=names)
    data = load(Request(str(path)))
    assert data.name == "my-shapes" and data.class_names == tuple(names)
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)
    np.testing.assert_array_equal(data.y_test, y_test)
    np.savez(path, **arrays)
    assert load(Request(str(path))).class_names == ("0", "1", "2", "3")


def test_digits_run_offline_skips_what_cannot_fit_and_reports(store, tmp_path, monkeypatch, capsys):
    """8x8 digits: mlp trains, lenet5 is skipped with its reason; report and predict work."""
    args = ["run", "--arch", "mlp", "lenet5", "--epochs", "1", "--dataset", "digits"]
    done = in_process(*args, "--tracking-uri", store, cwd=tmp_path, monkeypatch=monkeypatch,
                      capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "skipped lenet5: needs images larger than 8x8x1" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("cnn-benchmark-digits")
    runs = client.search_runs([experiment.experiment_id])
    kinds = {run.data.tags["run_kind"]: run for run in runs}
    assert [r.data.tags["arch"] for r in runs if r.data.tags["run_kind"] == "training"] == ["mlp"]
    skipped = json.loads(kinds["comparison"].data.params["skipped_architectures"])
    assert list(skipped) == ["lenet5"] and skipped["lenet5"].startswith("needs images larger")
    assert kinds["training"].data.params["test_split"] == "held out 20% stratified, seed 0"
    assert str(client.get_model_version_by_alias("cnn-benchmark-digits", "champion").version) == "1"

    done = in_process("leaderboard", "--dataset", "digits", "--tracking-uri", store, cwd=tmp_path,
                      monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert done.returncode == 0 and "skipped lenet5: needs images larger than 8x8x1" in done.stdout

    done = in_process("report", "--dataset", "digits", "--tracking-uri", store, cwd=tmp_path,
                      monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "reports" / "cnn-benchmark-digits" / "index.html").read_text()
    assert "misclassified test images" in page and "left out" not in page

    from sklearn.datasets import load_digits

    digit = load_digits().images[0] * (255 / 16)  # a 0, drawn at 32x32 as a user might
    Image.fromarray(digit.astype(np.uint8)).resize((32, 32)).save(tmp_path / "zero.png")
    done = in_process("predict", str(tmp_path / "zero.png"), "--dataset", "digits",
                      "--tracking-uri", store, cwd=tmp_path, monkeypatch=monkeypatch,
                      capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{tmp_path / 'zero.png'}: ") and "(p=" in done.stdout


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as fashion-mnist ships it: magic, counts, then the bytes, gzipped."""
    header = struct.pack(">I", 0x0800 + array.ndim) + b"".join(
        struct.pack(">I", side) for side in array.shape
    )
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Keras's home (read from $KERAS_HOME once, when Keras is imported) at tmp_path."""
    from keras.src.backend import config

    home = tmp_path / "keras"
    home.mkdir()  # get_file uses /tmp/.keras instead when the folder is not writable
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    return home


def test_fashion_mnist_is_read_where_keras_keeps_it(keras_home) -> None:
    with pytest.raises(BenchmarkError) as refused:  # offline, nothing there yet
        load(Request("fashion_mnist"))
    place = keras_home / "datasets" / "fashion-mnist"
    assert str(refused.value) == f"cannot fetch fashion_mnist; Keras looks for it at {place}"
    rng = np.random.default_rng(2)
    x_train, x_test = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for n in (50, 20))
    y_train, y_test = np.arange(50) % 10, np.arange(20) % 10
    place.mkdir(parents=True, exist_ok=True)
    write_idx(place / "train-images-idx3-ubyte.gz", x_train)
    write_idx(place / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(place / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(place / "t10k-labels-idx1-ubyte.gz", y_test)
    data = load(Request("fashion_mnist"))
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.class_names == FASHION_CLASSES and data.digest == array_digest(
        data.x_train, data.y_train, data.x_test, data.y_test
    )


def test_cifar10_is_read_where_keras_extracts_it(keras_home) -> None:
    place = keras_home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    with pytest.raises(
        BenchmarkError, match=f"cannot fetch cifar10; Keras looks for it at {place}"
    ):
        load(Request("cifar10"))
    rng = np.random.default_rng(3)
    place.mkdir(parents=True, exist_ok=True)
    batches = {}
    for file in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, (10, 3 * 32 * 32), dtype=np.uint8)
        batches[file] = (data, list(range(10)))
        with open(place / file, "wb") as stream:  # as the CIFAR archive has them: bytes keys
            pickle.dump({b"data": data, b"labels": list(range(10))}, stream, protocol=4)
    data = load(Request("cifar10"))
    assert data.x_train.shape == (50, 32, 32, 3) and data.x_test.shape == (10, 32, 32, 3)
    first = batches["data_batch_1"][0][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(data.x_train[0], first)
    assert data.class_names == CIFAR10_CLASSES and data.y_test.tolist() == list(range(10))


@pytest.mark.parametrize("name", architectures.NAMES)
def test_every_architecture_takes_colour_images_and_any_class_count(name) -> None:
    arch = architectures.get(name)
    assert arch.unfit_reason(arch.defaults, (32, 32, 3), 100) is None
    assert arch.build(arch.defaults, (32, 32, 3), 100).output_shape == (None, 100)
    assert arch.build(arch.defaults, (20, 24, 1), 3).output_shape == (None, 3)
    reason = arch.unfit_reason(arch.defaults, (8, 8, 1), 10)
    if reason is not None:  # too small for it: one line saying so
        assert reason.startswith("needs images larger than 8x8x1") and "\n" not in reason
    assert arch.unfit_reason(arch.defaults, (2, 2, 1), 10) is not None or name in {"mlp", "resnet"}


def test_tune_on_digits_has_its_own_study_and_experiment(store, tmp_path, monkeypatch, capsys):
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["tune", "--arch", "mlp", "--dataset", "digits", "--trials", "1", "--epochs", "1"]
    done = in_process(*args, "--storage", storage, "--tracking-uri", store, cwd=tmp_path,
                      monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="digits-mlp", storage=storage)
    assert study.user_attrs["dataset"] == "digits" and len(study.trials) == 1
    assert MlflowClient(store).get_experiment_by_name("cnn-benchmark-digits") is not None


def test_the_report_reloads_named_datasets_and_asks_for_a_folder_again(tmp_path) -> None:
    import pandas as pd

    from benchmark.report.mistakes import _request

    run = pd.Series({"run_id": "r1", "dataset": "digits"})
    assert _request(run, None) == Request("digits")
    assert _request(pd.Series({"run_id": "r1", "dataset": "mnist"}), None) is None
    pets = tmp_path / "pets"
    pets.mkdir()
    given = Request(str(pets), image_size=(16, 16))
    assert _request(pd.Series({"run_id": "r2", "dataset": "pets"}), given) is given
    with pytest.raises(BenchmarkError, match="trained on pets; pass its folder or .npz file"):
        _request(pd.Series({"run_id": "r2", "dataset": "pets"}), None)


def test_the_mistakes_gallery_shows_colour_images_with_class_names() -> None:
    from benchmark.figures.report import mistakes_figure

    images = np.zeros((2, 20, 24, 3), dtype=np.uint8)
    images[..., 0] = 255  # red
    figure = mistakes_figure(
        images, np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.6]),
        ("cat", "dog", "fox"), inverted=False,
    )  # fmt: skip
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["pred dog (0.90)\ntrue cat", "pred fox (0.60)\ntrue dog"]
    shown = figure.axes[0].get_images()[0].get_array()
    assert shown.shape == (20, 24, 3) and shown[0, 0].tolist() == [255, 0, 0]


def test_predict_fits_pictures_to_the_model_input() -> None:
    from benchmark.serving.predict import fit_pictures

    picture = np.zeros((40, 30, 3), dtype=np.uint8)
    picture[..., 1] = 200
    assert fit_pictures([picture], (16, 12, 3)).shape == (1, 16, 12, 3)
    grey = fit_pictures([picture], (8, 8, 1))
    assert grey.shape == (1, 8, 8) and int(grey[0, 0, 0]) == round(200 * 0.587)
    with pytest.raises(BenchmarkError, match="pass a model trained by this benchmark"):
        fit_pictures([picture], (None, 8, 1))


def test_an_rgb_folder_runs_and_predicts_class_names(tmp_path, store, monkeypatch, capsys):
    root = rgb_folder(tmp_path / "pets")
    common = ["--tracking-uri", store]
    done = in_process("run", "--arch", "basic", "--epochs", "1", "--dataset", str(root), *common,
                      cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "broken.png" in done.stdout  # the one warning line naming the skipped file
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("cnn-benchmark-pets")
    (run,) = client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")
    assert run.data.params["input_shape"] == "20x24x3" and run.data.params["num_classes"] == "3"
    assert json.loads(run.data.tags["class_names"]) == ["cat", "dog", "fox"]
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.full((60, 45, 3), (200, 40, 10), dtype=np.uint8)).save(photo)
    # Random pixels carry no class, so the run is marked "did not learn" and never crowned:
    # predict names the run's model instead of the champion.
    assert "did not learn" in done.stdout + done.stderr
    model = f"runs:/{run.info.run_id}/model"
    done = in_process("predict", str(photo), "--dataset", str(root), "--model", model, *common,
                      cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    label = done.stdout.split(": ", 1)[1].split(" (p=")[0]
    assert label in {"cat", "dog", "fox"}, done.stdout
