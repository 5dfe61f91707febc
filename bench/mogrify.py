"""Mogrify speed at the default model size (180x320), against the machine and a peer network.

Builds an export of an untrained default model (VaeConfig() and RefinerConfig(): weights do
not change the speed) in a temporary run, generates a 100-frame 320x180 clip with a sine track,
then measures in one run:

- end to end: stylize_run with default settings (decode, --source auto pass, stylize, H.264
  encode, audio mux), frames/s over the whole wall time; also the stylizing pass alone;
- the stylize step alone, per method (vaest.stylize.methods: residual, the default; refine, the
  exported stylize graph in one call; split), on fitted frames already in memory;
- the machine's conv throughput: the best of several large Conv2D layers, best of several runs;
- the model's FLOPs per frame, counted from the layer shapes of the encoder, decoder and refiner,
  so stylize frames/s x FLOPs / conv throughput is the share of the measured peak reached;
- a Johnson-style feed-forward transformer network at the same resolution, the peer.

Targets (PASS/FAIL, always exits 0), for the default method: end to end >= 15 frames/s, the
stylize step >= 2x the peer network, the stylize step >= 70% of the measured conv throughput.

With --run_dir RUN (a trained and exported run, e.g. runs/demo after `make demo`), it also
reports per method how the stylized frames of --video (default: the generated clip) compare
with the input and with the paintings of RUN's target domain: edge correlation, sharpness, and
the colour and VGG texture distances to the paintings relative to the input's.

Then, output larger than the model (--part hd runs only this): a 1280x720 clip (a pan over the
photos of ../shared/data when present, else testsrc2) stylized with --upsample resize (the
model's output enlarged) and guided (vaest.stylize.upsample), with RUN's export or else the
untrained one: frames/s end to end, and the output's sharpness (gradient energy ratio) and edge
correlation against the input; targets sharpness >= 0.8 and edge correlation >= 0.9. Also the
peak of numpy memory for 3840x2160 clips of two lengths: streaming keeps it flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_summary  # noqa: E402

FRAMES = 100
NETWORK_FRAMES = 32  # frames per timed pass of the network-only measures
ROUNDS = 5
SIZE = (180, 320)
TARGET_FPS = 15.0
TARGET_PEER = 2.0
TARGET_PEAK = 0.70


def make_clip(path: Path) -> None:
    from vaest.io.video import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error"]
    cmd += ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"]
    cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    cmd += ["-frames:v", str(FRAMES), "-pix_fmt", "yuv420p", "-c:v", "libx264"]
    cmd += ["-c:a", "aac", "-t", f"{FRAMES / 25:.3f}", str(path)]
    subprocess.run(cmd, check=True)


def make_export(run_dir: Path):
    """RUN/export of an untrained default VAE and refiner, laid out as export_graphs.py makes it."""
    import tensorflow as tf

    from vaest.data.records import Domain, Manifest
    from vaest.export.write import StyleModel
    from vaest.models.config import RefinerConfig, VaeConfig
    from vaest.models.refiner import build_refiner
    from vaest.models.vae import VAE

    config, refiner_config = VaeConfig(), RefinerConfig()
    vae = VAE(config)
    vae(np.zeros((1, *config.image_size, 3), np.float32))
    refiner = build_refiner(refiner_config)
    folder = run_dir / "export"
    folder.mkdir(parents=True)
    module = StyleModel(vae, refiner, refiner_config)
    signatures = module.signatures(*config.image_size, config.latent_dim)
    tf.saved_model.save(module, str(folder / "saved_model"), signatures=signatures)
    rng = np.random.default_rng(0)
    np.savez(
        folder / "latents.npz",
        names=np.array(["clip", "art"]),
        kinds=np.array(["video", "painting"]),
        centroid=rng.normal(size=(2, config.latent_dim)).astype(np.float32),
        std=np.ones((2, config.latent_dim), np.float32),
        count=np.array([100, 100]),
    )
    info = {
        "has_refiner": True,
        "guide": refiner_config.guide,
        "image_size": list(config.image_size),
        "latent_dim": config.latent_dim,
        "fit": "crop",
    }
    (folder / "export.json").write_text(json.dumps(info))
    domains = [Domain(0, "clip", "video"), Domain(1, "art", "painting")]
    manifest = Manifest(config.image_size, domains, {}, {"fit": "crop"})
    (folder / "manifest.json").write_text(manifest.to_json())
    return vae, refiner


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


def conv_calls():
    """One timed call per large Conv2D shape like the model's: {label: (call, GFLOP per call)}."""
    import tensorflow as tf

    calls = {}
    for n, h, w, cin, cout, k in CONV_SHAPES:
        x = tf.random.uniform([n, h, w, cin])
        kernel = tf.random.uniform([k, k, cin, cout])
        conv = tf.function(lambda x=x, kernel=kernel: tf.nn.conv2d(x, kernel, 1, "SAME"))
        label = f"{k}x{k} conv {cin}->{cout} on {n}x{h}x{w}"
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
    args = parser.parse_args()
    if args.part != "hd":
        speed(args)
    if args.part != "speed":
        print()
        from mogrify_hd import hd_figures

        hd_figures(Path(args.run_dir) if args.run_dir else None)


def speed(args) -> None:
    import tensorflow as tf
    from absl import logging

    from vaest.export.read import Exported
    from vaest.io import imaging, video, video_out
    from vaest.latent import Shift
    from vaest.stylize.job import plan
    from vaest.stylize.methods import DEFAULT_METHOD, METHODS
    from vaest.stylize.run import run as stylize_run
    from vaest.stylize.settings import Settings
    from vaest.stylize.stylizer import Stylizer

    logging.set_verbosity(logging.WARNING)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip)
        vae, refiner = make_export(tmp / "run")
        exported = Exported.from_run(tmp / "run")
        settings = Settings()
        step = settings.batch_size
        passes = []

        def end_to_end():
            """As mogrify_video.py runs it, default settings; keeps the stylizing pass's rate."""
            job = plan(settings, clip, tmp / "out.mp4", tmp / "run")
            passes.append(stylize_run(job, exported).fps)

        frames = [imaging.fit_image(f, SIZE, "crop") for f in video.iter_frames(clip)]
        fitted = np.stack(frames[:NETWORK_FRAMES])
        source, target = exported.domain("clip").centroid, exported.domain("art").centroid
        shift = Shift(source, target, 1.0, 1.0)
        stylizers = {m: Stylizer(exported, shift, method=m) for m in METHODS}
        peer_model = johnson_network(SIZE)
        peer_call = tf.function(lambda x: peer_model(x, training=False))

        def peer(batch):
            peer_call(tf.constant(batch, tf.float32) / 255.0).numpy()

        convs = conv_calls()
        work = {
            "end to end": (end_to_end, FRAMES),
            **{
                f"stylize {m}": (in_batches(stylizers[m], fitted, step), len(fitted))
                for m in METHODS
            },
            "peer": (in_batches(peer, fitted, step), len(fitted)),
            **convs,
        }
        rates = best_rates(work, ROUNDS)
        written = video_out.stream_info(tmp / "out.mp4")
        assert written["frames"] == FRAMES and written["has_audio"], written

    flops = {
        "encoder": model_flops(vae.encoder),
        "decoder": model_flops(vae.decoder),
        "refiner": model_flops(refiner),
    }
    encode, decode, refine = flops["encoder"], flops["decoder"], flops["refiner"]
    method_flops = {  # residual decodes and refines both z' and mu; split has no refiner
        "residual": encode + 2 * (decode + refine),
        "refine": encode + decode + refine,
        "split": encode + decode,
    }
    peer_flops = model_flops(peer_model)
    peer, end_to_end_rate = rates["peer"], rates["end to end"]
    stylize = rates[f"stylize {DEFAULT_METHOD}"]
    peak_label = max(convs, key=rates.get)
    peak = rates[peak_label]
    reached = stylize * method_flops[DEFAULT_METHOD] / 1e9
    cores = os.cpu_count()
    parts = ", ".join(f"{k} {v / 1e9:.2f}" for k, v in flops.items())
    print(f"machine: {cores} CPU cores, load average {load:.1f} at start, tf {tf.__version__}")
    print(f"cpu: {cpu_summary()}")
    print(f"best of {ROUNDS} interleaved rounds each")
    print(f"model: 180x320, GFLOP/frame: {parts}; batch {step}")
    print(f"end to end:      {end_to_end_rate:6.2f} frames/s  ({FRAMES} frames, 320x180, sound,")
    print(f"                                     --method {DEFAULT_METHOD})")
    print(f"  stylizing pass {max(passes):6.2f} frames/s  (without the --source auto pass)")
    for method in METHODS:
        rate, gflop = rates[f"stylize {method}"], method_flops[method] / 1e9
        print(
            f"stylize {method:9s}{rate:6.2f} frames/s  = {rate * gflop:5.1f} GFLOP/s "
            f"({gflop:.2f} GFLOP/frame, {rate * gflop / peak:.0%} of conv throughput)"
        )
    print(f"conv throughput: {peak:6.1f} GFLOP/s   (best: {peak_label})")
    peer_gflop = peer_flops / 1e9
    print(f"peer network:    {peer:6.2f} frames/s  (Johnson et al., {peer_gflop:.2f} GFLOP/frame)")
    checks = [
        ("end to end frames/s", end_to_end_rate, TARGET_FPS, ".2f"),
        ("stylize step / peer network", stylize / peer, TARGET_PEER, ".2f"),
        ("stylize step / conv throughput", reached / peak, TARGET_PEAK, ".0%"),
    ]
    print(f"targets, --method {DEFAULT_METHOD}:")
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
    from vaest.stylize.methods import METHODS
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
