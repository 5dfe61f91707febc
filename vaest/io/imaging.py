"""Loading images as correct RGB and fitting them to the model size."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from vaest.errors import UserError
from vaest.io.atomic import temp_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
FIT_MODES = ("crop", "pad", "stretch")
# Larger than any real painting scan, small enough that decoding cannot exhaust memory.
MAX_PIXELS = 120_000_000


class ImageError(UserError):
    """An image that cannot be used; the message names the file and the problem."""


class ImageTooLarge(ImageError):
    """An image refused for its size: a possible decompression bomb, not a damaged file."""


def parse_size(text: str) -> tuple[int, int]:
    """'180x320' -> (180, 320), height first."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"image size must be HEIGHTxWIDTH, e.g. 180x320, not {text!r}") from None
    if height < 2 or width < 2:
        raise ValueError(f"image size must be at least 2x2, not {text!r}")
    return height, width


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any mode, bit depth or EXIF orientation -> upright uint8 RGB array of shape [H, W, 3]."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # The limit is max_pixels, checked below; PIL's own warning fires at 89M pixels.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > max_pixels:
                    raise ImageTooLarge(
                        f"{path}: {image.width}x{image.height} pixels is larger than the "
                        f"{max_pixels:,}-pixel limit (refusing a possible decompression bomb)"
                    )
                image.load()
                image = ImageOps.exif_transpose(image)
                return to_rgb(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(f"{path}: refusing a possible decompression bomb ({err})") from err
    except FileNotFoundError as err:
        raise ImageError(f"{path}: no such file") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{path}: not a readable image ({err})") from err


def to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to uint8 RGB, compositing transparency over white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        # A 16-bit mode always spans 0..65535, even in a dark image; plain "I" has no fixed range.
        top = 65535.0 if image.mode != "I" or values.max() > 255 else 255.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        span = max(values.max() - values.min(), 1e-12)
        gray = ((values - values.min()) / span * 255.0 + 0.5).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging when shrinking (no aliasing), bicubic when enlarging."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(image).resize((width, height), method))


def fit_image(image: np.ndarray, size: tuple[int, int], mode: str = "crop") -> np.ndarray:
    """Fit an RGB array to size (H, W): crop to the aspect, pad to it, or stretch."""
    height, width = size
    src_h, src_w = image.shape[:2]
    if mode == "stretch":
        return resize(image, height, width)
    if mode == "crop":
        scale = max(height / src_h, width / src_w)
        cut_h = min(src_h, round(height / scale))
        cut_w = min(src_w, round(width / scale))
        top, left = (src_h - cut_h) // 2, (src_w - cut_w) // 2
        return resize(image[top : top + cut_h, left : left + cut_w], height, width)
    if mode == "pad":
        top, left, inner_h, inner_w = pad_box((src_h, src_w), size)
        out = np.zeros((height, width, 3), np.uint8)
        out[top : top + inner_h, left : left + inner_w] = resize(image, inner_h, inner_w)
        return out
    raise ValueError(f"fit mode must be one of {', '.join(FIT_MODES)}, not {mode!r}")


def pad_box(src_size: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where fit_image(mode='pad') puts the picture inside size: (top, left, height, width)."""
    src_h, src_w = src_size
    height, width = size
    scale = min(height / src_h, width / src_w)
    inner_h = max(1, min(height, round(src_h * scale)))
    inner_w = max(1, min(width, round(src_w * scale)))
    return (height - inner_h) // 2, (width - inner_w) // 2, inner_h, inner_w


def find_images(folder: Path) -> list[Path]:
    """Every image file below folder, recursively, in a stable order."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def write_image(image: np.ndarray, path: Path) -> None:
    """Write in the format the suffix names (PNG, JPEG at quality 95, ...)."""
    fmt = Image.registered_extensions()[path.suffix.lower()]
    options = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(image).save(path, format=fmt, **options)


def save_image(image: np.ndarray, path: str | Path) -> None:
    """Write an image atomically: a uniquely named temporary file beside it, then a rename."""
    path = Path(path)
    name = temp_file(path)
    try:
        write_image(image, Path(name))
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def as_float_images(images, dtype=np.float32) -> np.ndarray:
    """uint8 images are scaled by 1/255; float images in [0, 1] keep their values."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(dtype) / dtype(255.0)
    return images.astype(dtype, copy=False)


def to_uint8(images) -> np.ndarray:
    """uint8 images pass through; float images in [0, 1] are clipped, scaled and rounded."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or float in [0, 1], not {images.dtype}")
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# Random tiles cover 25% to 100% of the side of the largest box of the asked aspect ratio.
MIN_TILE_SCALE = 0.25


def tile_boxes(
    image_size: tuple[int, int], size: tuple[int, int], count: int, rng: np.random.Generator
) -> list[tuple[int, int, int, int]]:
    """`count` random (top, left, height, width) boxes inside image_size with the aspect of size,
    each 25% to 100% of the side of the largest such box."""
    src_h, src_w = image_size
    height, width = size
    box_h = min(src_h, src_w * height / width)
    box_w = min(src_w, src_h * width / height)
    boxes = []
    for _ in range(count):
        scale = rng.uniform(MIN_TILE_SCALE, 1.0)
        h = min(src_h, max(1, round(box_h * scale)))
        w = min(src_w, max(1, round(box_w * scale)))
        top = int(rng.integers(0, src_h - h + 1))
        left = int(rng.integers(0, src_w - w + 1))
        boxes.append((top, left, h, w))
    return boxes
