"""The dataset options shared by run, tune, leaderboard and report, and the names they imply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.settings.defaults import (
    COLORS,
    DATASETS,
    DEFAULT_DATASET,
    DEFAULT_EXPERIMENT,
    REGISTERED_MODEL_PREFIX,
)
from benchmark.settings.fields import Settings, experiment_field, one_option, tracking_uri_field

MAX_SIDE = 4096  # pixels: --image-size beyond this is surely a typo


def safe_name(text: str) -> str:
    """A dataset name fit for experiment and model names: lower case, [a-z0-9_-]."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "data"


def dataset_kind(spec: str) -> str:
    """The source that reads `spec`: its name, `folder` or `npz`; else one line saying why not."""
    if spec in DATASETS:
        return spec
    path = Path(spec).expanduser()
    if path.is_dir():
        return "folder"
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise BenchmarkError(f"--dataset {spec}: no such file")
        return "npz"
    if path.exists():
        raise BenchmarkError(f"--dataset {spec}: not a folder of images nor an .npz file")
    looks_like_path = "/" in spec or "\\" in spec or spec.startswith(".")
    if looks_like_path:
        raise BenchmarkError(f"--dataset {spec}: no such folder or file")
    raise BenchmarkError(
        f"unknown dataset {spec!r}; choose from: {', '.join(DATASETS)}, or give a folder of "
        "images or an .npz file"
    )


def dataset_name(spec: str) -> str:
    """The name runs record: mnist, digits, ... or the folder's or .npz file's own name."""
    if spec in DATASETS:
        return spec
    path = Path(spec).expanduser()
    return safe_name(path.stem if path.suffix.lower() == ".npz" else path.resolve().name)


def default_experiment(spec: str) -> str:
    """cnn-benchmark for MNIST (as always), cnn-benchmark-<dataset> for any other data."""
    name = dataset_name(spec)
    return DEFAULT_EXPERIMENT if name == DEFAULT_DATASET else f"{DEFAULT_EXPERIMENT}-{name}"


def registered_model(dataset: str) -> str:
    """The registered model a dataset's champion joins: cnn-benchmark-mnist, -digits, ..."""
    return f"{REGISTERED_MODEL_PREFIX}{dataset}"


def image_size(text: str | None) -> tuple[int, int] | None:
    """'32x48' as (32, 48): height, width; None stays None."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not found or not all(1 <= int(side) <= MAX_SIDE for side in found.groups()):
        raise BenchmarkError(
            f"argument --image-size: expected HEIGHTxWIDTH, each 1 to {MAX_SIDE} pixels "
            f"(e.g. 32x32), got {text!r}"
        )
    return int(found[1]), int(found[2])


def dataset_field() -> Any:
    """--dataset NAME|PATH."""
    help_ = (
        f"{', '.join(DATASETS)}, a folder of images (one sub-folder per class) or an .npz "
        f"file (default {DEFAULT_DATASET})"
    )
    return one_option(DEFAULT_DATASET, "--dataset", logged=True, metavar="NAME|PATH", help=help_)


def image_size_field() -> Any:
    """--image-size HxW, for folders."""
    help_ = "size a folder's images are read at (default: their most common size)"
    return one_option(None, "--image-size", logged=True, metavar="HxW", help=help_)


def color_field() -> Any:
    """--color grayscale|rgb, for folders."""
    help_ = "read a folder's images as grey or colour (default: rgb if any image has colour)"
    return one_option(None, "--color", logged=True, choices=COLORS, help=help_)


def data_request(settings: Any) -> dict[str, Any]:
    """The dataset the settings ask for, as keyword arguments of data.sources.Request."""
    return {
        "spec": settings.dataset,
        "image_size": image_size(settings.image_size),
        "color": settings.color,
    }


def check_data(settings: Any) -> None:
    """Check --dataset, --image-size and --color; fill in the dataset's default experiment."""
    kind = dataset_kind(settings.dataset)
    image_size(settings.image_size)
    if kind != "folder" and (settings.image_size is not None or settings.color is not None):
        raise BenchmarkError("--image-size and --color apply to a folder of images only")
    if getattr(settings, "experiment", "") is None:
        settings.experiment = default_experiment(settings.dataset)


@dataclass(kw_only=True)
class DataSettings(Settings):
    """The options of a command that reads one dataset's runs: which data, which experiment,
    which tracking store. Keyword-only, so a command's own fields come first."""

    experiment: str = experiment_field()
    dataset: str = dataset_field()
    image_size: str | None = image_size_field()  # HxW
    color: str | None = color_field()
    tracking_uri: str | None = tracking_uri_field()

    def check(self) -> None:
        """The dataset must be known (and fills in its default experiment)."""
        check_data(self)
