"""Classify image files of digits with a trained model: read, preprocess, predict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.images import MNIST_SIZE, read_digit
from benchmark.errors import BenchmarkError


@dataclass(frozen=True)
class Prediction:
    """The most probable digit for one image file."""

    path: str
    digit: int
    probability: float  # the model's softmax output for that digit, in [0, 1]

    def line(self) -> str:
        """As printed by `python -m benchmark predict`, e.g. 'digit.png: 7 (p=0.998)'."""
        return f"{self.path}: {self.digit} (p={self.probability:.3f})"


def read_digits(paths: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """Preprocess every readable file; return its paths, uint8 (N, 28, 28) images and errors."""
    good, images, errors = [], [], []
    for path in paths:
        try:
            images.append(read_digit(Path(path)))
            good.append(path)
        except BenchmarkError as error:
            errors.append(str(error))
    stacked = np.stack(images) if images else np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8)
    return good, stacked, errors


def classify(model: Any, paths: list[str], images: np.ndarray) -> list[Prediction]:
    """The model's most probable digit and its probability for each image."""
    from benchmark.data.splits import (
        to_model_input,  # data imports scikit-learn: only when predicting
    )

    expected = (MNIST_SIZE, MNIST_SIZE, 1)
    if tuple(model.input_shape[1:]) != expected:
        raise BenchmarkError(
            f"the model expects inputs of shape {tuple(model.input_shape[1:])}, but predict "
            f"makes MNIST-style {expected} images; pass a model trained by this benchmark"
        )
    probabilities = model.predict(to_model_input(images), verbose=0)
    digits = probabilities.argmax(axis=1)
    return [
        Prediction(path, int(digit), float(row[digit]))
        for path, digit, row in zip(paths, digits, probabilities, strict=True)
    ]
