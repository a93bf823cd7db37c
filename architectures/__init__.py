"""The architecture registry; importing this package registers every architecture."""

# One import line per architecture: the order here is the order `list` prints.
from architectures import (  # noqa: F401
    augmented,
    basic,
    batchnorm,
    deeper,
    dropout,
    lenet5,
    mlp,
    resnet,
    separable,
)
from architectures.registry import Architecture, get, names

__all__ = ["Architecture", "get", "names"]
