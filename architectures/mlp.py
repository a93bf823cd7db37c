"""A multilayer perceptron on raw pixels: the non-convolutional baseline."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "hidden_1": 512,
    "hidden_2": 256,
    "dropout": 0.2,
    "epochs": 8,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 2e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over hidden widths, dropout and the training knobs."""
    return {
        "hidden_1": trial.suggest_categorical("hidden_1", [256, 512, 1024]),
        "hidden_2": trial.suggest_categorical("hidden_2", [128, 256, 512]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial, DEFAULTS),
    }


@register(
    "mlp",
    "no convolutions: two dense hidden layers on the flattened pixels;"
    " the MNIST baseline, fits any image size",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Flatten - Dense - Dropout - Dense - Dropout - Dense(classes)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Flatten(),
            layers.Dense(params["hidden_1"], activation="relu"),
            layers.Dropout(params["dropout"]),
            layers.Dense(params["hidden_2"], activation="relu"),
            layers.Dropout(params["dropout"]),
            classifier(num_classes),
        ],
        name="mlp",
    )
