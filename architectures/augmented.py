"""Two blocks of three batch-norm convolutions, trained on shifted, rotated and zoomed digits."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import bn_head, conv_bn, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "filters_1": 32,  # the three convolutions of the first block
    "filters_2": 64,  # the three convolutions of the second block
    "dense_units": 128,
    "dropout": 0.4,  # fraction dropped after each block and after the dense layer
    "shift": 0.1,  # largest random shift, as a fraction of the image side
    "rotation": 0.028,  # largest random rotation, as a fraction of a full turn (10 degrees)
    "zoom": 0.1,  # largest random zoom in or out, as a fraction of the image side
    "epochs": 4,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 3e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 20,  # augmented training is noisy: let the one-cycle schedule finish
}

# Named protocols (`run --params NAME`): `wide` is issue 24's attempt at 99.70% in at most 15
# minutes of training a seed on 2 cores: half as many channels again, and the most epochs that
# fit (68 s each on an Intel Xeon family 6 model 167 in bfloat16, 2026-12-06; docs/results.md).
PRESETS: dict[str, dict[str, Any]] = {
    "wide": {"filters_1": 48, "filters_2": 96, "epochs": 12},
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over widths, dropout, augmentation strength and the training knobs."""
    return {
        "filters_1": trial.suggest_categorical("filters_1", [16, 32, 48]),
        "filters_2": trial.suggest_categorical("filters_2", [32, 64, 96]),
        "dense_units": trial.suggest_categorical("dense_units", [64, 128, 256]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "shift": trial.suggest_float("shift", 0.0, 0.15),
        "rotation": trial.suggest_float("rotation", 0.0, 0.05),
        "zoom": trial.suggest_float("zoom", 0.0, 0.15),
        **training_space(trial, DEFAULTS),
    }


def _block(filters: int, dropout: float) -> list[keras.layers.Layer]:
    """Two 3x3 convolutions, a strided 5x5 one in place of pooling, then dropout."""
    return [
        *conv_bn(filters),
        *conv_bn(filters),
        *conv_bn(filters, kernel=5, strides=2, padding="same"),
        layers.Dropout(dropout),
    ]


def _augmentation(params: dict[str, Any]) -> list[keras.layers.Layer]:
    """Random shift, rotation and zoom; Keras applies them in training only."""
    return [
        layers.RandomTranslation(params["shift"], params["shift"], fill_mode="constant"),
        layers.RandomRotation(params["rotation"], fill_mode="constant"),
        layers.RandomZoom(params["zoom"], params["zoom"], fill_mode="constant"),
    ]


@register(
    "augmented",
    "six batch-norm convolutions trained on shifted, rotated, zoomed digits;"
    " designed for grey digits (no flips)",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Augmentation, two blocks of 3x3, 3x3 and strided 5x5 Conv-BN-ReLU, a BN dense layer."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *_augmentation(params),
            *_block(params["filters_1"], params["dropout"]),
            *_block(params["filters_2"], params["dropout"]),
            *bn_head(params["dense_units"], params["dropout"], num_classes),
        ],
        name="augmented",
    )
