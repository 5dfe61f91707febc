"""What the painter's width costs: its layouts side by side, in one run on this machine.

For Johnson et al.'s layout at full width (32-64-128, the default), half (16-32-64) and a quarter
(8-16-32), each with five residual blocks, and the half width painting at half the resolution
(its output enlarged, as PaintStage does above --paint_size), it prints the parameters, the
convolution multiply-adds per 320x180 frame (vaest.models.painter.multiply_adds), the seconds a
frame at 320x180 and 1280x720 (batch 1, the median of --repeats calls after a warm-up), and the
seconds of a training step of the network alone (forward and backward on a batch of 2 pairs of
160x160 crops; the VGG16 losses come on top), each with its ratio to the default measured in the
same run. It measures cost only: whether a layout paints is bench/paint.py's question.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_summary  # noqa: E402

flags.DEFINE_integer("repeats", 5, "Timed calls per figure; the median is printed.")
FLAGS = flags.FLAGS

LAYOUTS = (  # name, filters, painted at this fraction of the output's side
    ("x1 (default)", (32, 64, 128), 1.0),
    ("x0.5", (16, 32, 64), 1.0),
    ("x0.25", (8, 16, 32), 1.0),
    ("x0.5 at half size", (16, 32, 64), 0.5),
)


def median_seconds(call, repeats: int) -> float:
    call()  # the first call traces and allocates
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(filters, scale: float, repeats: int) -> dict[str, float]:
    """One layout's figures; scale: the fraction of the output's side it paints at."""
    import tensorflow as tf

    from vaest.models.config import PainterConfig
    from vaest.models.painter import build_painter, multiply_adds

    config = PainterConfig(filters=filters)
    painter = build_painter(config)
    paint = tf.function(lambda x: painter(x, training=False))
    side = (round(180 * scale), round(320 * scale))
    figures = {"parameters": painter.count_params()}
    figures["GMAC 320x180"] = multiply_adds(config, *side) / 1e9
    for height, width in ((180, 320), (720, 1280)):
        frame = tf.random.uniform([1, round(height * scale), round(width * scale), 6])
        figures[f"s/frame {width}x{height}"] = median_seconds(
            lambda frame=frame: paint(frame).numpy(), repeats
        )
    crops = tf.random.uniform([4, 160, 160, 6])
    optimizer = tf.keras.optimizers.Adam(1e-3)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(painter(x, training=True) - x[..., :3]))
        grads = tape.gradient(loss, painter.trainable_variables)
        optimizer.apply_gradients(zip(grads, painter.trainable_variables, strict=True))
        return loss

    figures["s/train step"] = median_seconds(lambda: step(crops).numpy(), repeats)
    return figures


def main(argv):
    print(f"CPU: {cpu_summary()}")
    rows = [(name, measure(filters, scale, FLAGS.repeats)) for name, filters, scale in LAYOUTS]
    base = rows[0][1]
    for name, figures in rows:
        shown = ", ".join(
            f"{key} {value:,.4g} ({value / base[key]:.2f}x)" for key, value in figures.items()
        )
        print(f"{name}: {shown}")


if __name__ == "__main__":
    app.run(main)
