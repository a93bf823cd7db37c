"""Read image files for a model: MNIST-style centred 28x28 digits, or resized grey or colour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from benchmark.errors import BenchmarkError

MNIST_SIZE = 28  # pixels per side of the model input
DIGIT_BOX = 20  # MNIST fits each digit's longer side into 20 pixels, then centres it in 28
MIN_CONTRAST = 32.0  # grey levels between background and darkest ink below which it is blank
INK_FLOOR = 0.1  # fraction of the ink range below which a pixel counts as background noise
MAX_SIDE = 1024  # larger photos are shrunk first: the digit ends up 20 pixels tall anyway


def read_grayscale(path: Path) -> np.ndarray:
    """Read an image file as float grey levels in [0, 255], transparency composited on white."""
    return _read(path, _to_gray)


def _read(path: Path, convert: Callable[[Image.Image], np.ndarray]) -> np.ndarray:
    """Open an image file, upright by its EXIF rotation, and convert it; one line if it fails."""
    if path.is_dir():
        raise BenchmarkError(f"{path}: is a directory, not an image")
    try:
        with Image.open(path) as image:
            return convert(ImageOps.exif_transpose(image))  # phones store rotation in EXIF
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise BenchmarkError(f"{path}: not an image Pillow can read (PNG or JPEG)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise BenchmarkError(f"{path}: could not read the image ({reason})") from None


def _on_white(image: Image.Image) -> Image.Image:
    """The image with any transparency composited on a white background."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image.convert("RGBA"))
    return image


def _to_gray(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float greyscale
        gray = np.asarray(image, dtype=np.float64)
        return gray / 257.0 if gray.max() > 255 else gray
    image = _on_white(image).convert("L")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float64)


def to_mnist(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """Centre one digit like MNIST: uint8 (28, 28), white ink on black, scaled into 20x20.

    A light background (judged by the border pixels' mean) is inverted first; the background
    level is taken from the border and subtracted, so grey paper becomes black.
    """
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise BenchmarkError(f"{name}: expected a 2-D image, got shape {gray.shape}")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 127.5:
        gray, border = 255.0 - gray, 255.0 - border
    ink = np.clip(gray - np.median(border), 0.0, None)
    if ink.max() < MIN_CONTRAST:
        raise BenchmarkError(f"{name}: no digit found (the image is blank)")
    ink = ink * (255.0 / ink.max())
    ink[ink < INK_FLOOR * 255.0] = 0.0  # paper texture and JPEG ringing around the strokes
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _centre(_fit(digit))


def _fit(digit: np.ndarray) -> np.ndarray:
    """Scale so the longer side is DIGIT_BOX pixels, keeping the aspect ratio (anti-aliased)."""
    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(digit.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 255.0)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into a black 28x28 so the centre of mass lands on pixel (14, 14), as in MNIST."""
    height, width = digit.shape
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    top = round(MNIST_SIZE / 2 - (ys * digit).sum() / mass)
    left = round(MNIST_SIZE / 2 - (xs * digit).sum() / mass)
    top = min(max(top, 0), MNIST_SIZE - height)  # keep every stroke inside the frame
    left = min(max(left, 0), MNIST_SIZE - width)
    canvas = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float64)
    canvas[top : top + height, left : left + width] = digit
    return np.rint(canvas).astype(np.uint8)


def read_digit(path: Path) -> np.ndarray:
    """Read one image file of a digit as an MNIST-style uint8 (28, 28) array."""
    return to_mnist(read_grayscale(path), str(path))


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as uint8 (H, W, 3), transparency composited on white."""
    return _read(path, _to_rgb)


def _to_rgb(image: Image.Image) -> np.ndarray:
    image = _on_white(image).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8)


def fit_image(rgb: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Resize uint8 (H, W, 3) to a model input (height, width, channels): grey (H, W) or RGB.

    The same steps a folder dataset's images went through: Lanczos resize, ITU-R 601 luma
    for grey.
    """
    height, width, channels = shape
    picture = Image.fromarray(rgb)
    if (picture.height, picture.width) != (height, width):
        picture = picture.resize((width, height), Image.Resampling.LANCZOS)
    resized = np.asarray(picture, dtype=np.uint8)
    if channels == 3:
        return resized
    weights = np.array([299, 587, 114], dtype=np.uint32)
    return ((resized.astype(np.uint32) @ weights + 500) // 1000).astype(np.uint8)
