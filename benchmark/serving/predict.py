"""Classify image files with a trained model: read, preprocess like its data, predict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.images import MNIST_SIZE, fit_image, read_digit, read_rgb
from benchmark.errors import BenchmarkError


@dataclass(frozen=True)
class Prediction:
    """The most probable class for one image file."""

    path: str
    digit: int  # the class's label number (a digit for MNIST)
    probability: float  # the model's softmax output for that class, in [0, 1]
    name: str = ""  # the class's name, when the model's run recorded class names

    def line(self) -> str:
        """As printed by `python -m benchmark predict`, e.g. 'digit.png: 7 (p=0.998)'."""
        return f"{self.path}: {self.name or self.digit} (p={self.probability:.3f})"


def read_digits(paths: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """Preprocess every readable file; return its paths, uint8 (N, 28, 28) images and errors."""
    good, images, errors = _read_each(paths, read_digit)
    stacked = np.stack(images) if images else np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8)
    return good, stacked, errors


def read_pictures(paths: list[str]) -> tuple[list[str], list[np.ndarray], list[str]]:
    """Read every readable file as uint8 RGB at its own size; return paths, pictures, errors."""
    return _read_each(paths, read_rgb)


def _read_each(
    paths: list[str], read: Callable[[Path], np.ndarray]
) -> tuple[list[str], list[np.ndarray], list[str]]:
    """Read every file that can be read; its paths, arrays, and one error line per other file."""
    good, arrays, errors = [], [], []
    for path in paths:
        try:
            arrays.append(read(Path(path)))
            good.append(path)
        except BenchmarkError as error:
            errors.append(str(error))
    return good, arrays, errors


def fit_pictures(pictures: list[np.ndarray], input_shape: tuple[int, ...]) -> np.ndarray:
    """The pictures resized to the model's input, grey or colour as it was trained."""
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3) or None in input_shape:
        raise BenchmarkError(
            f"the model expects inputs of shape {input_shape}; pass a model trained by this "
            "benchmark"
        )
    return np.stack([fit_image(picture, input_shape) for picture in pictures])


def classify(
    model: Any,
    paths: list[str],
    images: np.ndarray,
    class_names: tuple[str, ...] = (),
    mnist_style: bool = True,
) -> list[Prediction]:
    """The model's most probable class and its probability for each image."""
    from benchmark.data.splits import (
        to_model_input,  # data imports scikit-learn: only when predicting
    )

    expected = (MNIST_SIZE, MNIST_SIZE, 1)
    if mnist_style and tuple(model.input_shape[1:]) != expected:
        raise BenchmarkError(
            f"the model expects inputs of shape {tuple(model.input_shape[1:])}, but predict "
            f"makes MNIST-style {expected} images; pass a model trained by this benchmark"
        )
    probabilities = model.predict(to_model_input(images), verbose=0)
    digits = probabilities.argmax(axis=1)

    def name(label: int) -> str:
        return class_names[label] if label < len(class_names) else ""

    return [
        Prediction(path, int(digit), float(row[digit]), name(int(digit)))
        for path, digit, row in zip(paths, digits, probabilities, strict=True)
    ]
