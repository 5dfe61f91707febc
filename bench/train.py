"""VAE training speed at 180x320, batch 8, default model, against the machine's conv throughput.

Writes 64 records of real photographs (whole photos and tiles, through vaest.extract), then
trains the default VAE with model.fit fed two ways in the same run: from the records through
vaest.pipeline.training_dataset, and from the same images held in memory. The two feeds and a
reference convolution are timed in interleaved rounds (the feeds' order alternating), and the
best round of each counts, so that other load on the machine hurts all three alike. Each round is
also measured in CPU seconds of this process, a figure that other load hardly moves.

FLOP convention: a convolution costs 2 * H_out * W_out * k * k * C_in * C_out per image (a
multiply and an add for every kernel tap at every output position, padding included; for a
transposed convolution H_in * W_in); a dense layer 2 * inputs * outputs. Batch norm,
activations, upsampling and the loss are not counted. A training step counts as 3x the forward
FLOPs (forward, gradient of the inputs, gradient of the weights).

The machine's conv throughput is a 3x3 conv 128->128 on [8, 90, 160, 128], run back to back for
a few seconds per round after warm-up. Targets: the records pipeline costs at most 5% against
the in-memory feed, and a model step reaches at least 60% of the conv throughput; each is judged
on the best rounds in wall time and, as a check robust to other load, per CPU second. Always
exits 0.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_summary  # noqa: E402

from vaest.data import extract, sources
from vaest.data.pipeline import training_dataset
from vaest.data.records import load_manifest, read_records
from vaest.models.config import VaeConfig
from vaest.train.vae import VaeSettings, build_vae

SIZE = (180, 320)
BATCH = 8
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
TILES_PER_PHOTO = 15  # 4 photos x (1 whole + 15 tiles) = 64 records
WARMUP_STEPS = 2  # per fit call, not timed
TIMED_STEPS = 6
ROUNDS = 5
CONV_SHAPE = (8, 90, 160, 128)
CONV_SECONDS = 4.0  # per round
PIPELINE_TARGET = 0.05
MODEL_TARGET = 0.60


@dataclass
class Rounds:
    """Work done per round (images or FLOPs), per wall second and per CPU second."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, work: float, wall_seconds: float, cpu_seconds: float) -> None:
        self.wall.append(work / wall_seconds)
        self.cpu.append(work / cpu_seconds)


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def make_records(folder: Path) -> Path:
    """RUN/data holding real photo crops at 180x320, all in the training split."""
    from PIL import Image
    from skimage import data

    photos = folder / "photos"
    photos.mkdir()
    for name in PHOTOS:
        Image.fromarray(getattr(data, name)()).save(photos / f"{name}.png")
    options = sources.Options(image_size=SIZE, tiles_per_painting=TILES_PER_PHOTO, val_fraction=0)
    plans = sources.plan_domains([], [f"photos={photos}"], options)
    run_dir = folder / "run"
    extract.extract(plans, options, run_dir)
    return run_dir / "data"


class ConvReference:
    """One large forward convolution, timed in rounds of back-to-back runs."""

    def __init__(self):
        n, h, w, c = CONV_SHAPE
        x = tf.random.uniform(CONV_SHAPE)
        kernel = tf.random.uniform([3, 3, c, c])
        self.conv = tf.function(lambda: tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, "SAME")))
        self.flops = 2.0 * n * h * w * 3 * 3 * c * c
        self.rounds = Rounds()
        for _ in range(2):  # warm-up
            self.conv().numpy()

    def time_round(self) -> None:
        runs, (wall, cpu) = 0, clocks()
        while time.perf_counter() - wall < CONV_SECONDS:
            self.conv().numpy()
            runs += 1
        wall_end, cpu_end = clocks()
        self.rounds.add(runs * self.flops, wall_end - wall, cpu_end - cpu)


def forward_flops(model: keras.Model) -> float:
    """Conv and dense FLOPs of one image through a functional Keras model, from its layer shapes."""
    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            total += 2.0 * h * w * kh * kw * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2.0 * h * w * kh * kw * layer.input.shape[-1] * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            total += 2.0 * layer.input.shape[-1] * layer.units
    return total


class StepTimer(keras.callbacks.Callback):
    """Clocks the steps after the warm-up ones inside one model.fit call."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == WARMUP_STEPS - 1:
            self.start = clocks()
        elif batch == WARMUP_STEPS + TIMED_STEPS - 1:
            self.end = clocks()


def time_training(model: keras.Model, dataset, rounds: Rounds) -> None:
    timer = StepTimer()
    steps = WARMUP_STEPS + TIMED_STEPS
    model.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    (wall, cpu), (wall_end, cpu_end) = timer.start, timer.end
    rounds.add(TIMED_STEPS * BATCH, wall_end - wall, cpu_end - cpu)


def pipeline_rate(dataset, batches: int = 40) -> float:
    """Images per second the records pipeline delivers on its own."""
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * BATCH / (time.perf_counter() - start)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = make_records(Path(tmp))
        manifest = load_manifest(data_dir)
        records, _ = training_dataset(data_dir, manifest, BATCH, seed=0)
        images = np.stack([r["image"] for r in read_records(data_dir, "train").as_numpy_iterator()])
        memory = tf.data.Dataset.from_tensor_slices(images).repeat().batch(BATCH)
        memory = memory.prefetch(tf.data.AUTOTUNE)

        model = build_vae(VaeConfig(image_size=SIZE), VaeSettings(), tf.distribute.get_strategy())
        per_image = forward_flops(model.encoder) + forward_flops(model.decoder)
        conv = ConvReference()

        model.fit(memory, epochs=1, steps_per_epoch=2, verbose=0)  # trace and warm up
        feeds = {"in memory": (memory, Rounds()), "records": (records, Rounds())}
        for round_ in range(ROUNDS):
            conv.time_round()
            for name in sorted(feeds, reverse=round_ % 2 == 1):
                dataset, rounds = feeds[name]
                time_training(model, dataset, rounds)
        delivered = pipeline_rate(records)

    train_flops = 3 * per_image
    n, h, w, c = CONV_SHAPE
    conv_wall, conv_cpu = max(conv.rounds.wall), max(conv.rounds.cpu)
    print(f"cpu: {cpu_summary()}")
    print(
        f"model: default VaeConfig at {SIZE[0]}x{SIZE[1]}, batch {BATCH}, "
        f"{model.count_params() / 1e6:.1f}M parameters; {len(images)} records"
    )
    print(
        f"FLOPs per image: forward {per_image / 1e9:.2f} G (conv + dense, 2 per multiply-add); "
        f"training = 3 x forward = {train_flops / 1e9:.2f} G"
    )
    shown = ", ".join(f"{r / 1e9:.0f}" for r in conv.rounds.wall)
    print(
        f"conv reference: 3x3 conv {c}->{c} on [{n},{h},{w},{c}], {conv.flops / 1e9:.1f} GFLOP a "
        f"run: {conv_wall / 1e9:.1f} GFLOP/s (best round; rounds {shown}); "
        f"{conv_cpu / 1e9:.1f} GFLOP per CPU second"
    )
    print(f"records pipeline alone: {delivered:.1f} images/s")
    print(
        f"{'feed':<10} {'images/s':>9} {'rounds':>30} {'GFLOP/s':>8} {'of conv':>8}   "
        f"{'per CPU s':>9} {'of conv':>8}"
    )
    best = {}
    for name, (_, rounds) in feeds.items():
        best[name] = max(rounds.wall), max(rounds.cpu)
        wall, cpu = best[name]
        shown = ", ".join(f"{v:.2f}" for v in rounds.wall)
        print(
            f"{name:<10} {wall:9.2f} {shown:>30} {wall * train_flops / 1e9:8.1f} "
            f"{wall * train_flops / conv_wall:8.0%}   "
            f"{cpu:9.2f} {cpu * train_flops / conv_cpu:8.0%}"
        )
    cost = 1.0 - best["records"][0] / best["in memory"][0]
    cpu_cost = 1.0 - best["records"][1] / best["in memory"][1]
    print(
        f"records pipeline cost against in-memory (target <= {PIPELINE_TARGET:.0%}): "
        f"wall {cost:.1%} {verdict(cost <= PIPELINE_TARGET)}; "
        f"per CPU second {cpu_cost:.1%} {verdict(cpu_cost <= PIPELINE_TARGET)}"
    )
    share = best["in memory"][0] * train_flops / conv_wall
    cpu_share = best["in memory"][1] * train_flops / conv_cpu
    print(
        f"model step against conv throughput (target >= {MODEL_TARGET:.0%}): "
        f"wall {share:.0%} {verdict(share >= MODEL_TARGET)}; "
        f"per CPU second {cpu_share:.0%} {verdict(cpu_share >= MODEL_TARGET)}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
