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
