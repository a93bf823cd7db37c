"""A deeper VGG-style CNN: five 3x3 convolutions in three stages, then a dense head."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,  # one convolution at 28x28 (the costliest resolution, so only one)
    "filters_2": 32,  # two convolutions at 14x14
    "filters_3": 64,  # two convolutions at 7x7
    "dense_units": 128,
    "dropout": 0.3,  # fraction dropped before the output layer
    "epochs": 3,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 3e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over stage widths, head width, dropout and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32]),
        "filters_2": trial.suggest_categorical("filters_2", [24, 32, 48]),
        "filters_3": trial.suggest_categorical("filters_3", [48, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [64, 128, 256]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial, DEFAULTS),
    }


@register(
    "deeper",
    "VGG-style: five 3x3 convolutions in three stages, dense 128; designed for MNIST digits",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv-Pool - [Conv-Conv-Pool] x 2 - Flatten - Dense - Dropout - Dense(classes)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(params["filters_1"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_2"], 3, activation="relu", padding="same"),
            layers.Conv2D(params["filters_2"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_3"], 3, activation="relu", padding="same"),
            layers.Conv2D(params["filters_3"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(params["dense_units"], activation="relu"),
            layers.Dropout(params["dropout"]),
            classifier(num_classes),
        ],
        name="deeper",
    )
