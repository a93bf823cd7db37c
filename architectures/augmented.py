"""A batch-norm CNN that trains on randomly shifted, rotated and zoomed digits."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,
    "filters_2": 64,
    "filters_3": 128,
    "dense_units": 128,
    "dense_dropout": 0.3,  # fraction dropped before the output layer
    "shift": 0.1,  # largest random shift, as a fraction of the image side
    "rotation": 0.03,  # largest random rotation, as a fraction of a full turn (about 11 degrees)
    "zoom": 0.1,  # largest random zoom in or out, as a fraction of the image side
    "epochs": 15,
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 3e-3,  # batch norm tolerates a larger step
    "lr_schedule": "cosine",  # decays to 1% over the planned epochs
    "patience": 15,  # augmented training is noisy early on: let the cosine schedule finish
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over widths, head dropout, augmentation strength and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "filters_3": trial.suggest_categorical("filters_3", [64, 128]),
        "dense_units": trial.suggest_categorical("dense_units", [64, 128, 256]),
        "dense_dropout": trial.suggest_float("dense_dropout", 0.0, 0.5),
        "shift": trial.suggest_float("shift", 0.0, 0.15),
        "rotation": trial.suggest_float("rotation", 0.0, 0.05),
        "zoom": trial.suggest_float("zoom", 0.0, 0.15),
        **training_space(trial, DEFAULTS),
    }


def _conv_bn(filters: int, padding: str) -> list[keras.layers.Layer]:
    """Conv without bias (batch norm's shift replaces it), then BN, then ReLU."""
    return [
        layers.Conv2D(filters, 3, padding=padding, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
    ]


def _augmentation(params: dict[str, Any]) -> list[keras.layers.Layer]:
    """Random shift, rotation and zoom; Keras applies them in training only."""
    return [
        layers.RandomTranslation(params["shift"], params["shift"], fill_mode="constant"),
        layers.RandomRotation(params["rotation"], fill_mode="constant"),
        layers.RandomZoom(params["zoom"], params["zoom"], fill_mode="constant"),
    ]


@register("augmented", "batch-norm CNN trained on randomly shifted, rotated and zoomed digits")
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Augmentation layers, then batchnorm's Conv-BN-ReLU blocks with a wider last block."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *_augmentation(params),
            *_conv_bn(params["filters_1"], "same"),
            layers.MaxPooling2D(2),
            *_conv_bn(params["filters_2"], "valid"),
            layers.MaxPooling2D(2),
            *_conv_bn(params["filters_3"], "valid"),
            layers.Flatten(),
            layers.Dense(params["dense_units"], use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(params["dense_dropout"]),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="augmented",
    )
