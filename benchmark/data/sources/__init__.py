"""Data sources by name, like the architecture registry: one small module per source.

Imports: settings, errors, data.

`load(spec)` takes a registered name (mnist, digits, fashion_mnist, cifar10, cifar100) or a
path (a folder of images, or an .npz file) and returns a checked `Dataset`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.dataset import Dataset, check_dataset
from benchmark.settings.data import dataset_kind

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


def load(request: Request) -> Dataset:
    """Load the dataset `request.spec` names and check it."""
    source = dataset_kind(request.spec)
    names()
    return check_dataset(_REGISTRY[source](request))


__all__ = ["Dataset", "Request", "load", "names", "register"]
