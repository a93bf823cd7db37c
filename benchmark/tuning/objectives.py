"""What a trial's values are: its best validation accuracy, then the costs `--objective` adds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from benchmark.settings import OBJECTIVES

if TYPE_CHECKING:  # studies import this module; reading a study needs no Keras
    import keras

# The trial run's metric each cost objective is also logged as (the training runs' names).
METRICS = {
    "latency": "latency_p50_ms",
    "flops": "flops_per_image",
    "params": "params",
}
# How a value is shown in the Pareto table and on the figure's axes.
LABELS = {
    "accuracy": "val accuracy",
    "latency": "latency ms (p50, batch 1)",
    "flops": "FLOPs per image",
    "params": "parameters",
}
# Repeats of the latency measurement: a trial's latency is a median of 100 single-image calls.
LATENCY_REPEATS = 100


def directions(objectives: Sequence[str]) -> list[str]:
    """Optuna's directions of the objectives, in their order."""
    return [OBJECTIVES[name] for name in objectives]


def costs_of(
    objectives: Sequence[str], model: keras.Model, input_shape: Sequence[int]
) -> dict[str, float]:
    """The cost objectives measured on the trained model, by objective name."""
    from benchmark.training import costs

    found: dict[str, float] = {}
    if "latency" in objectives:
        found["latency"] = costs.latency_ms(model, input_shape, repeats=LATENCY_REPEATS)[0]
    if "flops" in objectives:
        found["flops"] = float(2 * costs.count_macs(model))
    if "params" in objectives:
        found["params"] = float(model.count_params())
    return found


def shown(objective: str, value: float) -> str:
    """A value as the tables print it: accuracy to 4 places, costs compactly."""
    if objective == "accuracy":
        return f"{value:.4f}"
    if objective == "latency":
        return f"{value:.3f}"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"
