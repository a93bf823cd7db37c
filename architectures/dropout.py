"""The notebook CNN regularised with dropout after each pooling stage and before the classifier."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,
    "filters_2": 64,
    "filters_3": 64,
    "dense_units": 128,
    "conv_dropout": 0.25,  # fraction of activations dropped after each pooling stage
    "dense_dropout": 0.5,  # fraction dropped before the output layer
    "epochs": 3,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 3e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over widths, both dropout rates and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "filters_3": trial.suggest_categorical("filters_3", [32, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [64, 128, 256]),
        "conv_dropout": trial.suggest_float("conv_dropout", 0.0, 0.5),
        "dense_dropout": trial.suggest_float("dense_dropout", 0.0, 0.6),
        **training_space(trial, DEFAULTS),
    }


@register(
    "dropout",
    "the notebook CNN with dropout after each pooling stage and in the head;"
    " designed for MNIST digits",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """basic's layers with Dropout after each pooling stage and before the output."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(params["filters_1"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Dropout(params["conv_dropout"]),
            layers.Conv2D(params["filters_2"], 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(params["conv_dropout"]),
            layers.Conv2D(params["filters_3"], 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(params["dense_units"], activation="relu"),
            layers.Dropout(params["dense_dropout"]),
            classifier(num_classes),
        ],
        name="dropout",
    )
