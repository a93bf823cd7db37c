"""The architecture registry: each architecture module registers its three names here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Training hyperparameters every architecture's DEFAULTS must hold, read by the runner.
TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "lr_schedule",
    "patience",
)


@dataclass(frozen=True)
class Architecture:
    """One registered architecture: its defaults, its Optuna space and its builder."""

    name: str
    description: str
    defaults: dict[str, Any]
    search_space: Callable[[Any], dict[str, Any]]
    build: Callable[..., Any]

    def params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with `overrides` applied; unknown keys are refused."""
        merged = dict(self.defaults)
        for key, value in (overrides or {}).items():
            if key not in merged:
                raise KeyError(f"{self.name} has no hyperparameter {key!r}")
            merged[key] = value
        return merged


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, description: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a module's `build`: store it with the module's DEFAULTS and search_space."""

    def add(build: Callable[..., Any]) -> Callable[..., Any]:
        module = sys.modules[build.__module__]
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is registered twice")
        missing = [key for key in TRAINING_KEYS if key not in module.DEFAULTS]
        if missing:
            raise ValueError(f"architecture {name!r}: DEFAULTS lacks {', '.join(missing)}")
        _REGISTRY[name] = Architecture(
            name=name,
            description=description,
            defaults=dict(module.DEFAULTS),
            search_space=module.search_space,
            build=build,
        )
        return build

    return add


def get(name: str) -> Architecture:
    """The architecture registered under `name`; KeyError lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(names())
        raise KeyError(f"unknown architecture {name!r}; choose from: {valid}") from None


def names() -> list[str]:
    """Registered architecture names, in registration order."""
    return list(_REGISTRY)
