"""A deeper VGG-style CNN: two stacked 3x3 convolutions per stage, then a wider head."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,  # channels of both convolutions in stage 1 (28x28)
    "filters_2": 64,  # channels of both convolutions in stage 2 (14x14)
    "dense_units": 128,
    "dropout": 0.3,  # fraction dropped before the output layer
    "epochs": 12,
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over stage widths, head width, dropout and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [64, 128, 256]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial, DEFAULTS),
    }


@register("deeper", "VGG-style: two 3x3 convolutions per stage, two stages, dense 128")
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """[Conv-Conv-Pool] x 2 - Flatten - Dense - Dropout - Dense(classes)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(params["filters_1"], 3, activation="relu", padding="same"),
            layers.Conv2D(params["filters_1"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_2"], 3, activation="relu", padding="same"),
            layers.Conv2D(params["filters_2"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(params["dense_units"], activation="relu"),
            layers.Dropout(params["dropout"]),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="deeper",
    )
