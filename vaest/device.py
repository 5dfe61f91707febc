"""Where the model runs: mogrify_video.py --device auto, cpu or gpu."""

from __future__ import annotations

from vaest.errors import UserError

DEVICES = ("auto", "cpu", "gpu")
GPU_BATCH = 32  # frames per call on a GPU: small batches leave most of it idle


def check_device(name: str) -> None:
    if name not in DEVICES:
        raise UserError(f"--device must be one of {', '.join(DEVICES)}, not {name!r}")


def resolve_device(name: str) -> str:
    """The TensorFlow device for --device: auto takes the first GPU if there is one."""
    check_device(name)
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if name == "gpu" and not gpus:
        raise UserError(
            "--device gpu: TensorFlow sees no GPU on this machine; use --device cpu or auto"
        )
    if name == "cpu" or not gpus:
        return "/CPU:0"
    return gpus[0].name


PRECISIONS = ("auto", "float32", "bfloat16")
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU flags under which oneDNN runs bf16 natively


def cpuinfo(key: str) -> str:
    """The first value of `key` in /proc/cpuinfo ("flags", "model name"), or "" where none."""
    try:
        lines = open("/proc/cpuinfo").read().splitlines()
    except OSError:
        return ""
    name, _, value = next((x.partition(":") for x in lines if x.startswith(key)), ("", "", ""))
    return value.strip() if name.strip() == key else ""


def cpu_flags() -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is missing)."""
    return set(cpuinfo("flags").split())


def check_precision(name: str) -> None:
    if name not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, not {name!r}")


def resolve_precision(name: str, device: str, available: bool) -> str:
    """float32 or bfloat16 for --precision: auto takes bfloat16 on a CPU that computes it
    natively, when the export has the bfloat16 graphs (`available`)."""
    check_precision(name)
    if name == "bfloat16" and not available:
        raise UserError(
            "--precision bfloat16: this export has no bfloat16 graphs; run export_graphs.py again"
        )
    if name != "auto":
        return name
    native = "CPU" in device and bool(cpu_flags() & set(BFLOAT16_FLAGS))
    return "bfloat16" if available and native else "float32"
