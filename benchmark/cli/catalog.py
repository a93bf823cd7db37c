"""The architecture catalogue printed by `python -m benchmark list`."""

from __future__ import annotations

from rich.table import Table

import architectures
from benchmark.data.mnist import INPUT_SHAPE
from benchmark.settings.defaults import MNIST_CLASSES


def parameter_counts() -> dict[str, int]:
    """Parameters of each registered architecture with its defaults, built for MNIST."""
    counts = {}
    for name in architectures.names():
        arch = architectures.get(name)
        counts[name] = arch.build(arch.defaults, INPUT_SHAPE, MNIST_CLASSES).count_params()
    return counts


def architecture_table() -> Table:
    """Name, parameter count with thousands separators, and description."""
    table = Table(title="Registered architectures")
    table.add_column("name")
    table.add_column("parameters", justify="right")
    table.add_column("description")
    for name, count in parameter_counts().items():
        table.add_row(name, f"{count:,}", architectures.get(name).description)
    return table
