"""A small residual network: a conv stem, a max-pool, three stages of basic residual blocks."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from architectures.common import classifier, training_space
from architectures.registry import register

DEFAULTS: dict[str, Any] = {
    "base_filters": 16,  # stage widths are base, 2*base, 4*base at 14, 7 and 4 pixels
    "blocks_per_stage": 1,  # residual blocks in each of the three stages
    "dropout": 0.2,
    "epochs": 3,  # one cycle over this budget, set for time to accuracy
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 4e-3,  # the one-cycle peak, per batch of `batch_size`
    "lr_schedule": "one_cycle",  # 20% linear warm-up from 4% of the peak, cosine decay to 0
    "patience": 3,
}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space over width, depth (blocks per stage), dropout and the training knobs."""
    return {
        "base_filters": trial.suggest_categorical("base_filters", [8, 16, 32]),
        "blocks_per_stage": trial.suggest_int("blocks_per_stage", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial, DEFAULTS),
    }


def _residual_block(x: keras.KerasTensor, filters: int, stride: int) -> keras.KerasTensor:
    """Two 3x3 Conv-BN layers with an identity (or 1x1 projection) shortcut."""
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


@register(
    "resnet",
    "a small ResNet: conv stem, 3 residual stages, global pooling;"
    " ResNet was designed for photos, this one is sized for MNIST",
)
def build(params: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Stem - pool - residual stages at 14, 7 and 4 pixels - global average pool - Dense."""
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(params["base_filters"], 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(2)(x)  # residual stages at 14x14 and below: a quarter of the cost
    for stage in range(3):
        filters = params["base_filters"] * 2**stage
        for block in range(params["blocks_per_stage"]):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _residual_block(x, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(params["dropout"])(x)
    outputs = classifier(num_classes)(x)
    return keras.Model(inputs, outputs, name="resnet")
