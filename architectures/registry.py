"""The architecture registry: each architecture module registers its three names here."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Training hyperparameters every architecture's DEFAULTS must hold, read by the runner.
# `epochs` and `patience` count epochs of MNIST (54,000 images each): `run` spreads that
# budget over other data (benchmark/training/budget.py) unless --epochs fixes the passes.
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
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides

    def params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with `overrides` applied; unknown keys are refused."""
        merged = dict(self.defaults)
        for key, value in (overrides or {}).items():
            if key not in merged:
                raise KeyError(f"{self.name} has no hyperparameter {key!r}")
            merged[key] = value
        return merged

    def unfit_reason(
        self, params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int
    ) -> str | None:
        """Why the model cannot be built for this input (a size reaching 0, say), or None.

        Builds it symbolically (no weights trained, well under a second) and looks at every
        layer's output shape.
        """
        size = "x".join(map(str, input_shape))
        try:
            model = self.build(params, input_shape, num_classes)
        except Exception as error:  # noqa: BLE001 - Keras says why in its own words
            text = re.sub(r"\x1b\[[0-9;]*m|\[[0-9;]*m", "", " ".join(str(error).split()))
            if "would be zero or negative" in text:
                return f"needs images larger than {size} (its layers shrink them to nothing)"
            return f"cannot be built for {size} images ({text[:120] or type(error).__name__})"
        for layer in _layers(model):
            shape = getattr(layer, "output", None)
            dims = getattr(shape, "shape", None) or ()
            if any(dim is not None and dim <= 0 for dim in tuple(dims)[1:]):
                shown = "x".join(str(dim) for dim in tuple(dims)[1:])
                return f"needs images larger than {size}: its layer {layer.name} outputs {shown}"
        return None


def _layers(model: Any) -> list[Any]:
    """Every layer of a model, nested models' layers included."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_layers(layer))
    return found


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
        presets = dict(getattr(module, "PRESETS", {}))
        for preset, overrides in presets.items():
            unknown = sorted(set(overrides) - set(module.DEFAULTS))
            if unknown:
                raise ValueError(f"architecture {name!r}: preset {preset!r} sets {unknown}")
        _REGISTRY[name] = Architecture(
            name=name,
            description=description,
            defaults=dict(module.DEFAULTS),
            search_space=module.search_space,
            build=build,
            presets=presets,
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
