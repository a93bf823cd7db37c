"""Depthwise-separable convolutions (as in MobileNet): far fewer multiply-adds per layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "stem_filters": 32,  # a full 3x3 convolution first: separable gains nothing on 1 channel
    "filters_2": 64,
    "filters_3": 128,
    "dropout": 0.3,
    "epochs": 4,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 4e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over widths, dropout and the training knobs."""
    return {
        "stem_filters": trial.suggest_categorical("stem_filters", [16, 32]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "filters_3": trial.suggest_categorical("filters_3", [64, 128, 192]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial, DEFAULTS),
    }


def _separable_bn(filters: int) -> list[keras.layers.Layer]:
    """SeparableConv without bias, then BN, then ReLU."""
    return [
        layers.SeparableConv2D(filters, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
    ]


@register(
    "separable",
    "depthwise-separable convolutions with batch norm (MobileNet-style);"
    " MobileNet was designed for photos, this one is sized for MNIST",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv stem - [SepConv-BN-ReLU-Pool] x 2 - SepConv - global average pool - Dense."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(params["stem_filters"], 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D(2),
            *_separable_bn(params["filters_2"]),
            layers.MaxPooling2D(2),
            *_separable_bn(params["filters_3"]),
            *_separable_bn(params["filters_3"]),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(params["dropout"]),
            classifier(num_classes),
        ],
        name="separable",
    )
