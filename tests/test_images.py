"""One decoding path for folders and predict: 16-bit images, large ones, Pillow's pixel limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data.images import read_digit
from benchmark.data.sources import Request, load
from benchmark.data.splits import to_model_input
from benchmark.serving.predict import fit_pictures, read_digits, read_pictures
from tests.conftest import logged_messages


def gradient(height: int, width: int, shift: int = 0) -> np.ndarray:
    """16-bit grey running from black to white down the rows: every 8-bit level appears."""
    ramp = np.linspace(0, 65535, height * width).reshape(height, width)
    return np.clip(np.rint(ramp) + shift, 0, 65535).astype(np.uint16)


def to_eight(sixteen: np.ndarray) -> np.ndarray:
    """The 8-bit twin of 16-bit grey: value/257, rounded (16-bit white is 8-bit white)."""
    return np.rint(sixteen / 257).astype(np.uint8)


def folder_of_16_bit(root: Path, height: int, width: int) -> list[Path]:
    """Two classes of three 16-bit gradient PNGs each, in train/ (test/ holds one more each)."""
    paths = []
    for split, count in (("train", 3), ("test", 1)):
        for label, name in enumerate(("dark", "light")):
            (root / split / name).mkdir(parents=True)
            for index in range(count):
                path = root / split / name / f"{index}.png"
                Image.fromarray(gradient(height, width, 500 * index - 3000 * label)).save(path)
                paths.append(path)
    return paths


def test_a_16_bit_png_keeps_its_grey_levels_in_a_folder_dataset(tmp_path) -> None:
    paths = folder_of_16_bit(tmp_path / "scans", 40, 50)
    assert Image.open(paths[0]).mode == "I;16"
    data = load(Request(str(tmp_path / "scans"), cache_dir=tmp_path / "cache"))
    assert data.image_shape == (40, 50, 1)
    first = data.x_train[0, ..., 0]
    assert len(np.unique(first)) == 256, "every 8-bit level, not two"
    np.testing.assert_array_equal(first, to_eight(np.asarray(Image.open(paths[0]))))


@pytest.mark.parametrize(("size", "color"), [((24, 20), "grayscale"), ((30, 30), "rgb")])
def test_the_folder_and_predict_give_the_same_model_input_for_a_16_bit_file(
    size: tuple[int, int], color: str, tmp_path
) -> None:
    # 1100 pixels tall: larger than the 1024 pixels predict used to shrink its pictures to.
    paths = folder_of_16_bit(tmp_path / "scans", 1100, 60)
    data = load(
        Request(str(tmp_path / "scans"), image_size=size, color=color, cache_dir=tmp_path / "c")
    )
    train = [path for path in paths if "train" in path.parts]
    good, pictures, errors = read_pictures([str(path) for path in train])
    assert errors == [] and len(good) == len(train)
    predicted = to_model_input(fit_pictures(pictures, data.image_shape))
    np.testing.assert_array_equal(predicted, to_model_input(data.x_train))
    # Black to white: mid-grey on average. Clipped at 255, nearly every pixel was white.
    assert abs(predicted[0].mean() - 0.5) < 0.02, "16-bit grey scaled, not clipped at 255"


def big_one(folder: Path, side: int) -> tuple[Path, Path]:
    """A slanted '1' (a dark stroke) on light paper with a gradient, in 16 bits and 8."""
    rows = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None]
    columns = np.linspace(0.0, 1.0, side, dtype=np.float32)[None, :]
    stroke = (np.abs(columns - (0.62 - 0.25 * rows)) < 0.06) & (np.abs(rows - 0.5) < 0.38)
    sixteen = np.where(stroke, 4000 + 3000 * rows, 52000 + 12000 * columns).astype(np.uint16)
    Image.fromarray(sixteen).save(folder / "sixteen.png", compress_level=1)
    Image.fromarray(to_eight(sixteen)).save(folder / "eight.png", compress_level=1)
    return folder / "sixteen.png", folder / "eight.png"


def test_a_large_16_bit_png_gives_the_same_digit_as_its_8_bit_twin(tmp_path) -> None:
    sixteen, eight = big_one(tmp_path, 2400)  # over 1024: shrunk before it is centred
    assert Image.open(sixteen).mode == "I;16"
    difference = read_digit(sixteen).astype(int) - read_digit(eight)
    assert np.abs(difference).max() <= 1, "within rounding"


PEAK = """
import sys
from pathlib import Path
from benchmark.data.images import read_digit
read_digit(Path(sys.argv[1]))
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""


def peak_bytes(path: Path) -> int:
    """Peak resident memory of a fresh process that reads one digit from `path`.

    VmHWM, not getrusage's ru_maxrss: that one keeps the peak of the parent it forked from.
    """
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_a_large_16_bit_png_is_shrunk_before_it_is_converted(tmp_path) -> None:
    side = 3000
    sixteen, eight = big_one(tmp_path, side)
    extra = peak_bytes(sixteen) - peak_bytes(eight)
    # Decoded, the 16-bit picture takes 2 bytes a pixel, 1 more than its twin; converted at
    # full size (float64 grey, then /257) it took over 24 more.
    assert extra < 3 * side * side, f"{extra / 2**20:.0f} MiB more than the 8-bit twin"


@pytest.fixture
def pixel_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pillow's limits scaled down: warned of above 10,000 pixels, refused above 20,000."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    return 20_000


def test_an_image_near_the_pixel_limit_is_read_with_one_warning_line(pixel_limit, tmp_path):
    near = tmp_path / "near.png"
    Image.fromarray(np.full((120, 130), 200, np.uint8)).save(near)  # 15,600 pixels
    with logged_messages() as messages:
        good, pictures, errors = read_pictures([str(near)])
    assert good == [str(near)] and errors == [] and pictures[0].shape == (120, 130, 3)
    assert len(messages) == 1
    assert str(near) in messages[0] and "130 pixels wide and 120 tall" in messages[0]
    assert "near Pillow's pixel limit of 20,000" in messages[0]


def test_an_image_over_the_pixel_limit_names_the_limit_in_predict(pixel_limit, tmp_path):
    over = tmp_path / "over.png"
    Image.fromarray(np.full((150, 150), 200, np.uint8)).save(over)  # 22,500 pixels
    for read in (read_digits, read_pictures):
        good, _, errors = read([str(over)])
        assert good == [] and len(errors) == 1
        assert errors[0] == (
            f"{over}: 22,500 pixels, over Pillow's pixel limit of 20,000 pixels "
            "(PIL.Image.MAX_IMAGE_PIXELS x 2, a guard against decompression bombs)"
        )


def test_the_folder_dataset_warns_of_and_skips_images_by_the_pixel_limit(pixel_limit, tmp_path):
    for label in ("a", "b"):
        (tmp_path / "pics" / label).mkdir(parents=True)
        for index in range(3):
            picture = np.full((60, 60), 40 * index + 100 * (label == "b"), np.uint8)
            Image.fromarray(picture).save(tmp_path / "pics" / label / f"{index}.png")
    Image.new("L", (130, 120), 9).save(tmp_path / "pics" / "a" / "near.png")
    Image.new("L", (150, 150), 9).save(tmp_path / "pics" / "b" / "over.png")
    with logged_messages() as messages:
        data = load(Request(str(tmp_path / "pics"), cache_dir=tmp_path / "cache"))
    assert len(data.y_train) + len(data.y_test) == 7, "the near one kept, the over one skipped"
    near = [line for line in messages if "near.png" in line]
    over = [line for line in messages if "over.png" in line]
    assert len(near) == 1 and "130 pixels wide and 120 tall, near" in near[0]
    assert len(over) == 1 and over[0].startswith("data: skipped ")
    assert "over Pillow's pixel limit of 20,000 pixels" in over[0]
