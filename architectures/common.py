"""Pieces the architecture modules share: the training part of every search space."""

from __future__ import annotations

from typing import Any

# Optimizers the runner knows how to build (benchmark.runner.make_optimizer).
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def training_space(trial: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """Suggest the training knobs every architecture shares; epochs and patience stay fixed."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "optimizer": trial.suggest_categorical("optimizer", ["adam", "adamw", "rmsprop"]),
        "lr_schedule": trial.suggest_categorical("lr_schedule", ["constant", "cosine"]),
        "epochs": defaults["epochs"],
        "patience": defaults["patience"],
    }
