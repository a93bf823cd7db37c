"""Read image files for a model: MNIST-style centred 28x28 digits, or resized grey or colour.

One decoding path serves training (folder datasets) and prediction: open, shrink while or right
after decoding, then convert to 8 bits (16-bit grey scaled by 1/257, rounded), on white.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.errors import BenchmarkError
from benchmark.settings.data import MAX_SIDE as LARGEST_INPUT_SIDE

log = logging.getLogger(__name__)

MNIST_SIZE = 28  # pixels per side of the model input
DIGIT_BOX = 20  # MNIST fits each digit's longer side into 20 pixels, then centres it in 28
MIN_CONTRAST = 32.0  # grey levels between background and darkest ink below which it is blank
INK_FLOOR = 0.1  # fraction of the ink range below which a pixel counts as background noise
DIGIT_SIDE = 1024  # larger photos are shrunk first: the digit ends up 20 pixels tall anyway
# Pictures are shrunk to at most --image-size's largest side, so no model input is ever
# upscaled from a shrunk picture, and a folder and predict shrink the same file alike.
PICTURE_SIDE = LARGEST_INPUT_SIDE
HIGH_BIT_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}  # 16- and 32-bit grey
SIXTEEN_TO_EIGHT = 257.0  # 65535 / 255: 16-bit white becomes 8-bit white
DECODING_VERSION = 2  # folder caches are keyed by it: bump when decoded pixels change
# EXIF orientation -> the transposition that makes the picture upright (as ImageOps's).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112


def pixel_limit() -> int | None:
    """Pillow's pixel limit: it refuses larger images as possible decompression bombs."""
    return 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else None


def _failure(path: Path, error: Exception) -> BenchmarkError:
    """The one-line reason an image file could not be opened or decoded."""
    if isinstance(error, FileNotFoundError):
        return BenchmarkError(f"{path}: no such file")
    if isinstance(error, UnidentifiedImageError):
        return BenchmarkError(f"{path}: not an image Pillow can read (PNG or JPEG)")
    if isinstance(error, Image.DecompressionBombError):
        found = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(found[1]):,} pixels, " if found else ""
        return BenchmarkError(
            f"{path}: {size}over Pillow's pixel limit of {pixel_limit():,} pixels "
            "(PIL.Image.MAX_IMAGE_PIXELS x 2, a guard against decompression bombs)"
        )
    reason = " ".join(str(error).split()) or type(error).__name__
    return BenchmarkError(f"{path}: could not read the image ({reason})")


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file's header, without decoding; one line if it is unreadable."""
    if path.is_dir():
        raise BenchmarkError(f"{path}: is a directory, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise _failure(path, error) from None
    return height, width


def decode(path: Path, max_side: int) -> Image.Image:
    """The file as an 8-bit 'L' or 'RGB' picture, upright, on white, at most max_side a side."""
    if path.is_dir():
        raise BenchmarkError(f"{path}: is a directory, not an image")
    try:
        with warnings.catch_warnings():  # Pillow's warning becomes our one line, _warn_if_huge
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return _decoded(image, path, max_side)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise _failure(path, error) from None


def _bounded(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is at most max_side, the aspect ratio kept."""
    width, height = size
    if max(width, height) <= max_side:
        return size
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decoded(image: Image.Image, path: Path, max_side: int) -> Image.Image:
    """Shrink before any conversion (JPEG even while decoding), then make 8 bits, upright."""
    size = _bounded(image.size, max_side)
    if size != image.size:
        image.draft(None, size)  # JPEG decodes straight at 1/2, 1/4 or 1/8 of its size
    _warn_if_huge(image, path)
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)  # phones store rotation in EXIF
    if image.mode in HIGH_BIT_MODES:
        picture = _eight_bit(image, size)
    else:
        picture = _on_white(image, size)
    if orientation in _UPRIGHT:
        return picture.transpose(_UPRIGHT[orientation])
    return picture.copy() if picture is image else picture  # the file closes on return


def _warn_if_huge(image: Image.Image, path: Path) -> None:
    """One line for an image Pillow would have warned of: decoded in full, it takes memory."""
    width, height = image.size  # after draft: what will actually be decoded
    if not Image.MAX_IMAGE_PIXELS or width * height <= Image.MAX_IMAGE_PIXELS:
        return
    # Pillow holds L, P and 1 in one byte a pixel, 16-bit grey in two, the other modes in four.
    depth = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    mebibytes = width * height * depth / 2**20
    log.warning(
        f"data: {path} is {width} pixels wide and {height} tall, near Pillow's pixel limit of "
        f"{pixel_limit():,} pixels: decoding it takes about {mebibytes:,.0f} MiB"
    )


def _eight_bit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """16- or 32-bit grey shrunk in its own depth, then value/257 rounded: 'L'."""
    key = image.info.get("transparency")
    if isinstance(key, int):  # one grey value means transparent: white, at full size
        values = np.asarray(image)
        grey = _to_eight(values)
        grey[values == key] = 255
        picture = Image.fromarray(grey, "L")
        return picture if picture.size == size else picture.resize(size, Image.Resampling.BOX)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BOX)  # Pillow resizes I;16 in 16 bits
    return Image.fromarray(_to_eight(np.asarray(image)), "L")


def _to_eight(values: np.ndarray) -> np.ndarray:
    """16-bit grey levels as 8-bit ones: value/257 rounded, clipped to 0..255."""
    scaled = np.rint(values.astype(np.float32) / np.float32(SIXTEEN_TO_EIGHT))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _on_white(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """8-bit modes shrunk, then transparency composited on white: 'L' or 'RGB'."""
    transparent = image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info
    if image.mode not in ("L", "RGB", "LA", "RGBA") or "transparency" in image.info:
        # Palette and 1-bit pictures would be resized nearest-neighbour, CMYK and the rest not
        # at all: converted first. A transparent colour key is applied before any blending.
        image = image.convert("RGBA" if transparent else "L" if image.mode == "1" else "RGB")
    if image.size != size:
        image = image.resize(size, Image.Resampling.BOX)  # LA and RGBA blend premultiplied
    if not transparent:
        return image
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    on_white = Image.alpha_composite(white, image.convert("RGBA"))
    return on_white.convert("L" if image.mode in ("LA", "La") else "RGB")


def read_grayscale(path: Path) -> np.ndarray:
    """Read an image file as float grey levels in [0, 255], transparency composited on white."""
    return np.asarray(decode(path, DIGIT_SIDE).convert("L"), dtype=np.float64)


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


def read_rgb(path: Path, max_side: int = PICTURE_SIDE) -> np.ndarray:
    """Read an image file as uint8 (H, W, 3), at most max_side pixels a side."""
    return np.asarray(decode(path, max_side).convert("RGB"), dtype=np.uint8)


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
