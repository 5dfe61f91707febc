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
