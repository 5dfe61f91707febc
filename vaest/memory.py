"""Whether a size fits in this machine's memory, checked before the work: a size that cannot fit
is one line, not a MemoryError after minutes, a segfault or the kernel's out-of-memory killer."""

from __future__ import annotations

from pathlib import Path

from vaest.errors import UserError

MEMINFO = Path("/proc/meminfo")
FLOAT32 = 4  # bytes


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (what can be allocated without swapping), or None where the
    kernel does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"


def require_memory(needed: int, what: str, hint: str) -> None:
    """Refuse `what` when `needed` bytes (a lower bound) exceed the memory available now."""
    available = available_bytes()
    if available is not None and needed > available:
        raise UserError(
            f"{what} needs at least {_gib(needed)} of memory, and {_gib(available)} is "
            f"available: {hint}"
        )


def image_bytes(height: int, width: int, copies: int = 1) -> int:
    """An RGB image in float32, `copies` times (a resize holds its input and output)."""
    return height * width * 3 * FLOAT32 * copies


def training_bytes(config, batch_size: int, gradients: bool = True) -> int:
    """A lower bound of what one training step of a VAE (its VaeConfig) holds: every encoder
    layer's float32 activations, mirrored by the decoder, each kept for the gradient and matched
    by its gradient (unless the VAE only runs forward, as under the refiner); and the batch."""
    height, width = config.image_size
    per_image = height * width * 3 + sum(
        h * w * f for (h, w), f in zip(config.layer_sizes, config.filters, strict=True)
    )
    return batch_size * per_image * FLOAT32 * 2 * (2 if gradients else 1)


def require_batch_memory(config, batch_size: int, gradients: bool = True) -> None:
    """Refuse, before the model is built, a --batch_size whose step cannot fit in memory."""
    require_memory(
        training_bytes(config, batch_size, gradients),
        f"--batch_size {batch_size} at {config.image_size[0]}x{config.image_size[1]}",
        "choose a smaller --batch_size",
    )


# VGG16's maps up to relu3_3 per pixel of its input, each kept for the gradient: two of 64
# channels at full size, two of 128 at 1/4 of the pixels, three of 256 at 1/16.
VGG_FLOATS = 2 * 64 + 2 * 128 / 4 + 3 * 256 / 16
LBFGS_FLOATS = 2 * 10 * 3  # tfp's L-BFGS keeps 10 correction pairs of the RGB picture


def painter_floats(config, training: bool = False) -> float:
    """Floats per input pixel that the painter (vaest.models.painter, its PainterConfig) holds
    at once. Painting: at its peak the input, the last upsampling's input and its conv's output.
    Training: every layer's maps (each ConvNorm's conv, norm and ReLU; full size, then 1/4 and
    1/16 of the pixels), kept for the gradient and matched by it."""
    small, middle, large = config.filters
    if not training:
        return 6 + middle + small + 3
    full = 12 + 7 * small + middle
    quarter = 6 * middle + large
    sixteenth = (3 + 6 * config.residual_blocks) * large
    return 2 * (full + quarter / 4 + sixteenth / 16)


def painter_bytes(config, height: int, width: int, images: int = 1, training=False) -> int:
    return int(images * height * width * painter_floats(config, training) * FLOAT32)


def require_painter_training_memory(config, frames: int, size, batch_size: int) -> None:
    """Refuse, before they are read, paint frames that cannot fit in memory (each read, then
    stacked: two float32 copies), and a --batch_size whose step cannot fit beside them (pairs
    of crops through the painter, the later ones through VGG16)."""
    data = frames * image_bytes(*size, copies=2)
    where = f"{size[0]}x{size[1]}"
    require_memory(
        data, f"reading the {frames} paint frames at {where}",
        "extract again with a smaller --paint_data_size or --paint_frames",
    )  # fmt: skip
    side = min(round(config.crop_range[1] / config.brush), *size)  # as the sampler's crops
    step = painter_bytes(config, side, side, 2 * batch_size, training=True)
    step += int(batch_size * side * side * VGG_FLOATS * FLOAT32)
    require_memory(
        data + step, f"--batch_size {batch_size} (pairs of {side}x{side} crops, beside the "
        "paint frames)", "choose a smaller --batch_size",
    )  # fmt: skip


def optimize_bytes(height: int, width: int) -> int:
    """A picture optimised at this size (--method optimize): VGG16's maps for the gradient,
    L-BFGS's history, and the picture, its gradient, the frame and the colour target."""
    return int(height * width * (VGG_FLOATS + LBFGS_FLOATS + 4 * 3) * FLOAT32)
