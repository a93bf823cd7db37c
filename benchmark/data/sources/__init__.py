"""Data sources by name, like the architecture registry: one small module per source.

`load(spec)` takes a registered name (mnist, digits, fashion_mnist, cifar10, cifar100) or a
path (a folder of images, or an .npz file) and returns a checked `Dataset`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.dataset import Dataset, check_dataset
from benchmark.errors import BenchmarkError
from benchmark.settings import DATASETS

# One module per source; importing it registers it.
MODULES = ("mnist", "digits", "keras_builtin", "npz", "folder")


@dataclass(frozen=True)
class Request:
    """What to load: the name or path, and for folders the size and colour to read them at."""

    spec: str
    image_size: tuple[int, int] | None = None  # height, width; None: the most common size
    color: str | None = None  # grayscale or rgb; None: rgb if any image has colour
    cache_dir: Path | None = None  # None: the default data cache


Loader = Callable[[Request], Dataset]
_REGISTRY: dict[str, Loader] = {}


def register(name: str) -> Callable[[Loader], Loader]:
    """Decorate a source module's loader: store it under `name`, refusing duplicates."""

    def add(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"data source {name!r} is registered twice")
        _REGISTRY[name] = loader
        return loader

    return add


def names() -> list[str]:
    """Registered source names: the datasets known by name, then folder and npz."""
    for module in MODULES:
        importlib.import_module(f"benchmark.data.sources.{module}")
    return list(_REGISTRY)


def kind(spec: str) -> str:
    """The source that reads `spec`: its own name, `folder` or `npz`; imports nothing heavy."""
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
    raise BenchmarkError(
        f"unknown dataset {spec!r}; choose from: {', '.join(DATASETS)}, or give a folder of "
        "images or an .npz file"
    )


def load(request: Request) -> Dataset:
    """Load the dataset `request.spec` names and check it."""
    source = kind(request.spec)
    names()
    return check_dataset(_REGISTRY[source](request))


__all__ = ["Dataset", "Request", "kind", "load", "names", "register"]
