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
