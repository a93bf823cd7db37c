"""A folder of images, one sub-folder per class, optionally split into train/ and test/.

Read once with Pillow into the verified data cache, keyed by a digest of the files and the
size and colour asked for; later runs read the cache.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data.dataset import KEYS, Dataset, hold_out_test
from benchmark.data.images import DECODING_VERSION, fit_image, image_size, read_rgb
from benchmark.data.mnist import default_cache_dir
from benchmark.data.sources import Request, register
from benchmark.errors import BenchmarkError
from benchmark.settings.data import safe_name

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}
MEMORY_SHARE = 0.5  # the images may take at most this share of the memory available now
CACHE_SUBDIR = "folders"


@dataclass(frozen=True)
class _Image:
    path: Path
    label: int
    test: bool
    size: tuple[int, int]  # height, width


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in IMAGE_SUFFIXES
    )


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _layout(root: Path) -> tuple[list[str], list[tuple[Path, int, bool]]]:
    """Class names and every candidate file with its label and whether it is a test image."""
    train_root = root / "train" if (root / "train").is_dir() else root
    test_root = root / "test" if train_root != root and (root / "test").is_dir() else None
    classes = [folder.name for folder in _class_folders(train_root)]
    if not classes:
        raise BenchmarkError(f"{root}: no class sub-folders (one folder of images per class)")
    if len(classes) < 2:
        raise BenchmarkError(
            f"{root}: one class only ({classes[0]}); a comparison needs at least two class folders"
        )
    files = []
    for split_root, test in ((train_root, False), (test_root, True)):
        if split_root is None:
            continue
        for folder in _class_folders(split_root):
            if folder.name not in classes:
                raise BenchmarkError(f"{folder}: a test class that train/ does not have")
            files += [(path, classes.index(folder.name), test) for path in _image_files(folder)]
    return classes, files


def _scan(files: list[tuple[Path, int, bool]]) -> list[_Image]:
    """Open every header (no decoding): size; unreadable files are skipped with a warning."""
    found = []
    for path, label, test in files:
        try:
            size = image_size(path)
        except BenchmarkError as error:
            log.warning(f"data: skipped {error}")
            continue
        found.append(_Image(path, label, test, size))
    return found


def _decode(image: _Image, size: tuple[int, int]) -> np.ndarray | None:
    """The image as uint8 RGB at `size`, read as predict reads it; None (warned) if unreadable."""
    try:
        return fit_image(read_rgb(image.path), (*size, 3))
    except BenchmarkError as error:
        log.warning(f"data: skipped {error}")
        return None


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable on Linux), or 0 when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _check_memory(root: Path, count: int, size: tuple[int, int]) -> None:
    needed = count * size[0] * size[1] * 3  # bytes while reading: RGB uint8
    available = available_memory()
    if available and needed > MEMORY_SHARE * available:
        raise BenchmarkError(
            f"{root}: {count:,} images at {size[0]}x{size[1]} need about {needed / 2**30:.1f} GiB, "
            f"more than half the {available / 2**30:.1f} GiB of memory available; "
            "pass a smaller --image-size"
        )


def _progress(items: list[_Image], description: str):  # noqa: ANN202 - a generator
    """Iterate with a Rich progress bar on a terminal; plainly elsewhere."""
    from rich.console import Console
    from rich.progress import track

    if not sys.stderr.isatty() or not log.isEnabledFor(logging.INFO):
        return iter(items)
    return track(items, description=description, console=Console(stderr=True), transient=True)


def _cache_key(root: Path, files: list[tuple[Path, int, bool]], request: Request) -> str:
    """A digest of every file's place, class, split and bytes, the size, colour and decoding."""
    digest = hashlib.sha256(repr((request.image_size, request.color, DECODING_VERSION)).encode())
    for path, label, test in files:
        digest.update(f"{path.relative_to(root)}|{label}|{test}|".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:20]


def _read_cache(path: Path, name: str) -> Dataset | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in KEYS}
            class_names = tuple(str(item) for item in npz["class_names"])
            test_split, digest = str(npz["test_split"]), str(npz["digest"])
    except Exception as error:  # noqa: BLE001 - any unreadable cache is rebuilt
        log.warning(f"data: cache {path} is unreadable ({type(error).__name__}); rebuilding it")
        return None
    data = Dataset(name, **arrays, class_names=class_names, test_split=test_split)
    if data.digest != digest:
        log.warning(f"data: cache {path} does not match its digest; rebuilding it")
        return None
    return data


def _write_cache(path: Path, data: Dataset) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "wb") as stream:
            np.savez(
                stream,
                **{key: getattr(data, key) for key in KEYS},
                class_names=np.array(data.class_names),
                test_split=np.array(data.test_split),
                digest=np.array(data.digest),
            )
        os.replace(partial, path)
    except OSError as error:  # a read-only cache should not stop a run
        partial.unlink(missing_ok=True)
        log.warning(f"data: could not cache the folder at {path} ({error})")


def _read_images(root: Path, classes: list[str], scanned: list[_Image], request: Request):  # noqa: ANN202
    """Decode into arrays; the default size is the most common, rgb if any image has colour."""
    sizes = collections.Counter(image.size for image in scanned)
    size = request.image_size or sizes.most_common(1)[0][0]
    _check_memory(root, len(scanned), size)
    kept, pixels, colourful = [], [], False
    for image in _progress(scanned, f"reading {root.name}"):
        rgb = _decode(image, size)
        if rgb is None:
            continue
        colourful = colourful or bool(
            np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2])
        )
        kept.append(image)
        pixels.append(rgb)
    color = request.color or ("rgb" if colourful else "grayscale")
    for label, name in enumerate(classes):
        if not any(image.label == label for image in kept):
            raise BenchmarkError(f"{root}: class folder {name!r} has no readable image")
    images = np.stack(pixels)
    if color == "grayscale":  # ITU-R 601 luma, as Pillow's convert("L"); grey stays exact
        weights = np.array([299, 587, 114], dtype=np.uint32)
        images = ((images.astype(np.uint32) @ weights + 500) // 1000).astype(np.uint8)[..., None]
    labels = np.array(
        [image.label for image in kept], dtype=np.uint8 if len(classes) <= 256 else np.int32
    )
    test = np.array([image.test for image in kept])
    return images, labels, test


@register("folder")
def load(request: Request) -> Dataset:
    """Read the folder (or its cached arrays); hold out a stratified test split without test/."""
    root = Path(request.spec).expanduser().resolve()
    classes, files = _layout(root)
    name = safe_name(root.name)
    key = _cache_key(root, files, request)
    cache = Path(request.cache_dir or default_cache_dir()) / CACHE_SUBDIR / f"{name}-{key}.npz"
    if cache.exists() and (cached := _read_cache(cache, name)) is not None:
        log.info(f"data: read {root.name} from the cache at {cache}")
        return cached
    scanned = _scan(files)
    if not scanned:
        raise BenchmarkError(f"{root}: no readable image in any class folder")
    images, labels, test = _read_images(root, classes, scanned, request)
    if test.any():
        parts = images[~test], labels[~test], images[test], labels[test], "test/ folder"
    else:
        parts = hold_out_test(images, labels)
    data = Dataset(name, *parts[:4], class_names=tuple(classes), test_split=parts[4])
    _write_cache(cache, data)
    log.info(
        f"data: read {len(labels):,} images of {len(classes)} classes from {root.name} at "
        f"{images.shape[1]}x{images.shape[2]}x{images.shape[3]}; cached at {cache}"
    )
    return data
