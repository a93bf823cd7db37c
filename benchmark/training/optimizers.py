"""The optimizer and learning-rate schedule a run trains with, read from its params."""

from __future__ import annotations

import math
from typing import Any

import keras

from benchmark.errors import BenchmarkError

ONE_CYCLE_WARMUP = 0.2  # fraction of all steps spent warming up to the peak
ONE_CYCLE_START = 0.04  # the warm-up starts at this fraction of the peak


def learning_rate_for(params: dict[str, Any], train_size: int) -> float | Any:
    """A constant rate, a cosine decay to 1% of it, or one cycle, over the planned epochs.

    One cycle (`one_cycle`): a linear warm-up over the first 20% of the steps from 4% of
    `learning_rate` to all of it, then a cosine decay to zero at the last step.
    """
    schedule = params.get("lr_schedule", "constant")
    if schedule == "constant":
        return params["learning_rate"]
    if schedule not in ("cosine", "one_cycle"):
        raise BenchmarkError(
            f"unknown lr_schedule {schedule!r}; choose constant, cosine or one_cycle"
        )
    steps = params["epochs"] * math.ceil(train_size / params["batch_size"])
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(params["learning_rate"], steps, alpha=0.01)
    warmup = max(1, round(ONE_CYCLE_WARMUP * steps))
    return keras.optimizers.schedules.CosineDecay(
        ONE_CYCLE_START * params["learning_rate"],
        decay_steps=max(1, steps - warmup),
        alpha=0.0,
        warmup_target=params["learning_rate"],
        warmup_steps=warmup,
    )


def make_optimizer(
    name: str, learning_rate: float | Any, beta_1: float = 0.9, beta_2: float = 0.999
) -> keras.optimizers.Optimizer:
    """A Keras optimizer by name; Adam(W) with these betas, SGD with Nesterov momentum 0.9."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, beta_1=beta_1, beta_2=beta_2)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    raise BenchmarkError(f"unknown optimizer {name!r}; choose from adam, adamw, rmsprop, sgd")
