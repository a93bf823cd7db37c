"""The architecture registry; `names()` and `get()` import, and so register, every architecture.

Imports: none.

`NAMES` knows them without importing Keras, so a command line is checked in milliseconds.
"""

from __future__ import annotations

import importlib

from architectures import registry
from architectures.registry import Architecture

# One line per architecture, the module named like the architecture it registers: the order
# here is the order `list` prints. A test checks that this equals the registry.
NAMES = (
    "augmented",
    "basic",
    "batchnorm",
    "deeper",
    "dropout",
    "jitter",
    "lenet5",
    "mlp",
    "resnet",
    "separable",
    "speedrun",
)

# Named protocols (`run --params NAME`) and the architectures that define them in their
# module's PRESETS, known without importing Keras. A test checks this against the registry.
PRESETS = {
    "notebook": ("basic",),  # the Keras notebook's Adam 1e-3, constant, 20 epochs
    "wide": ("augmented",),  # 48/96 channels over 12 epochs: the 15-minute attempt at 99.70%
}


def _load() -> None:
    """Import every architecture module (each registers itself); Keras loads here."""
    for name in NAMES:
        importlib.import_module(f"architectures.{name}")


def get(name: str) -> Architecture:
    """The architecture registered under `name`; KeyError lists the valid names."""
    check_name(name)
    _load()
    return registry.get(name)


def names() -> list[str]:
    """Registered architecture names, in registration order."""
    _load()
    return registry.names()


def known() -> list[str]:
    """`NAMES` and any architecture registered elsewhere, in `list` order; imports nothing."""
    return [*NAMES, *(other for other in registry.names() if other not in NAMES)]


def check_name(name: str) -> None:
    """KeyError, listing the valid names, unless `name` is an architecture; imports nothing."""
    if name not in known():
        raise KeyError(f"unknown architecture {name!r}; choose from: {', '.join(known())}")


__all__ = ["NAMES", "PRESETS", "Architecture", "check_name", "get", "known", "names"]
