"""The classic Keras MNIST notebook CNN: three convolutions, one hidden dense layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,  # channels of the first 3x3 convolution
    "filters_2": 64,
    "filters_3": 64,
    "dense_units": 64,
    "epochs": 3,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,  # images per step
    "optimizer": "adam",
    "learning_rate": 3e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 2,  # epochs without a better val_loss before early stopping
}

# Named protocols `run --params NAME` trains instead of the defaults; each trains all its epochs.
PRESETS: dict[str, dict[str, Any]] = {
    # The Keras notebook's own: Adam at a fixed 1e-3, batch 128, 20 epochs, no early stopping.
    "notebook": {"epochs": 20, "learning_rate": 1e-3, "lr_schedule": "constant"},
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over filter counts, dense width and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "filters_3": trial.suggest_categorical("filters_3", [32, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [32, 64, 128]),
        **training_space(trial, DEFAULTS),
    }


@register(
    "basic",
    "the Keras notebook CNN: 3 convolutions, 2 max-pools, dense 64; designed for MNIST digits",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv(32, same)-Pool-Conv(64)-Pool-Conv(64)-Flatten-Dense(64)-Dense(classes)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(params["filters_1"], 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_2"], 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(params["filters_3"], 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(params["dense_units"], activation="relu"),
            classifier(num_classes),
        ],
        name="basic",
    )
