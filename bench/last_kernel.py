"""The decoder's last kernel (7, 5, 3) and the folded export, in one run.

Extracts records at 72x128 from a video panned over ../shared/data's photos and its paintings
(generated testsrc2 frames when that folder is absent), then trains the same VAE three times,
differing only in the last decoder conv's kernel (VaeConfig.output_kernel), for equal steps,
batch, seed and data. For each it prints the held-out PSNR per domain (from train_vae's own
validation) and the folded decoder's time per frame, timed after all training in interleaved
rounds (best round counts), with ratios against kernel 7. A kept --work_dir resumes: runs already
at --steps are only validated and timed again; another --seed needs another --work_dir.

Then, for the kernel-7 model, the SavedModel's decode signature is timed with batch norm folded
(what export writes) and without (the Keras graph as trained), in interleaved rounds so that
other load hurts both alike; the best round of each counts. The folded graph is checked for batch
norm and training ops, and, through TensorFlow's run metadata, for convolutions whose bias and
activation the graph optimiser fused. Always exits 0.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import app, flags

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, TRAIN_PHOTOS, cpu_summary, pan, vae_settings  # noqa: E402

flags.DEFINE_integer("steps", 300, "VAE training steps for each kernel.")
flags.DEFINE_integer("batch_size", 16, "Training batch size.")
flags.DEFINE_list("last_kernels", ["7", "5", "3"], "Last decoder kernels; the first is the base.")
flags.DEFINE_integer("seed", 0, "Training seed, the same for every kernel.")
flags.DEFINE_string("work_dir", None, "Keep the runs here (default: a temporary folder).")
FLAGS = flags.FLAGS

SIZE = (72, 128)
# The default model's widths and kernels, halved in the middle to fit a few hundred steps into
# minutes; the last stage keeps the default's 64 channels into the RGB conv.
MODEL = {"filters": (64, 48, 64, 64, 96, 128), "kernels": (7, 5, 5, 3, 3, 3), "latent_dim": 256}
BN_OPS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Rsqrt"}
TRAINING_OPS = {"AssignVariableOp", "AssignSubVariableOp", "AssignAddVariableOp", "Mean"}


def make_data(work: Path) -> Path:
    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains
    from vaest.io.imaging import find_images

    data_run = work / "data_run"
    if (data_run / "data").exists():
        return data_run
    options = Options(image_size=SIZE, frame_stride=2, tiles_per_painting=24)
    if SHARED.exists():
        photos = {p.stem: p for p in find_images(SHARED / "photos")}
        video = pan([photos[n] for n in TRAIN_PHOTOS], work / "film.mp4", (180, 320), 400, 1)
        plans = plan_domains([f"film={video}"], [f"paintings={SHARED / 'paintings'}"], options)
    else:
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
        from conftest import make_video

        video = make_video(work / "film.mp4", frames=400, size="320x180", source="testsrc2")
        art = make_video(work / "art.mp4", frames=200, size="320x180", source="mandelbrot")
        plans = plan_domains([f"film={video}", f"art={art}"], [], options)
    extract(plans, options, data_run)
    return data_run


def best_time(fn, arg, rounds: int = 5, repeats: int = 10) -> float:
    fn(arg)  # warm-up (tracing, graph optimisation)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn(arg)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def graph_ops(concrete) -> set[str]:
    graph = concrete.graph.as_graph_def()
    return {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}


def optimised_ops(fn, arg) -> list[str]:
    """Op types TensorFlow actually ran for fn(arg), after its graph optimiser."""
    from tensorflow.python.eager import context  # run metadata has no public TF2 entry point

    context.enable_run_metadata()
    try:
        fn(arg)
        metadata = context.export_run_metadata()
    finally:
        context.disable_run_metadata()
    return [
        node.op for graph in metadata.function_graphs for node in graph.post_optimization_graph.node
    ]


def main(argv):
    from vaest.export.fold import fold_vae
    from vaest.export.write import StyleModel
    from vaest.train.checkpoints import load_trained_vae
    from vaest.train.vae import train_vae

    print(f"CPU: {cpu_summary()}")
    work = Path(FLAGS.work_dir or tempfile.mkdtemp(prefix="vaest-last-kernel-"))
    work.mkdir(parents=True, exist_ok=True)
    data_run = make_data(work)
    kernels = [int(k) for k in FLAGS.last_kernels]
    rng = np.random.default_rng(0)
    latents = tf.constant(rng.normal(size=(8, MODEL["latent_dim"])), tf.float32)
    rows, vaes = [], {}
    for kernel in kernels:
        run = work / f"last{kernel}"
        if not (run / "data").exists():
            run.mkdir(exist_ok=True)
            (run / "data").symlink_to((data_run / "data").resolve())
        started = time.perf_counter()
        settings = dataclasses.replace(vae_settings(FLAGS.steps, FLAGS.batch_size), seed=FLAGS.seed)
        figures = train_vae(run, settings, {**MODEL, "output_kernel": kernel})
        minutes = (time.perf_counter() - started) / 60
        vae, step = load_trained_vae(run)
        vaes[kernel] = vae
        psnr = {k.split("/", 1)[1]: v for k, v in figures.items() if k.startswith("psnr/")}
        rows.append((kernel, step, psnr))
        print(f"kernel {kernel}: step {step}, psnr {psnr}, {minutes:.1f} min", flush=True)

    # The inference decoders, timed after all training in interleaved rounds (order rotating).
    decoders = {}
    for kernel, vae in vaes.items():
        decoder = fold_vae(vae)[1]
        decoders[kernel] = tf.function(lambda z, d=decoder: d(z, training=False), autograph=False)
        decoders[kernel](latents)
    spent = {kernel: [] for kernel in kernels}
    for i in range(8):
        for kernel in kernels[i % len(kernels) :] + kernels[: i % len(kernels)]:
            seconds = best_time(decoders[kernel], latents, rounds=1) / latents.shape[0]
            spent[kernel].append(seconds)
    rows = [(*row, min(spent[row[0]])) for row in rows]

    print(f"\n{SIZE[0]}x{SIZE[1]}, {FLAGS.steps} steps, batch {FLAGS.batch_size}, "
          f"seed {FLAGS.seed}, model {MODEL}")  # fmt: skip
    base = rows[0]
    domains = sorted(base[2])
    print("last kernel | " + " | ".join(f"PSNR {d} (dB)" for d in domains)
          + " | mean PSNR Δ vs base (dB) | decode ms/frame (best of 8 interleaved rounds, batch 8)"
          + " | time ratio vs base")  # fmt: skip
    for kernel, _, psnr, seconds in rows:
        delta = np.mean([psnr[d] - base[2][d] for d in domains])
        print(f"{kernel} | " + " | ".join(f"{psnr[d]:.2f}" for d in domains)
              + f" | {delta:+.2f} | {seconds * 1e3:.2f} | {seconds / base[3]:.2f}")  # fmt: skip

    vae = vaes[kernels[0]]
    config = vae.config
    saved, loaded = {}, []
    for name, (encoder, decoder) in {
        "folded": fold_vae(vae), "plain": (vae.encoder, vae.decoder)
    }.items():  # fmt: skip
        module = StyleModel(config, encoder, decoder)
        signatures = module.signatures(*config.image_size, config.latent_dim)
        path = work / f"saved_{name}"
        tf.saved_model.save(module, str(path), signatures=signatures)
        loaded.append(tf.saved_model.load(str(path)))  # a signature needs its object alive
        saved[name] = loaded[-1].signatures["decode"]
    decode = {name: (lambda z, s=sig: s(latents=z)) for name, sig in saved.items()}
    # First calls: run metadata reports a graph's optimised form only when it is first run.
    for name in ("folded", "plain"):
        ran = optimised_ops(decode[name], latents)
        convs = sorted({op for op in ran if "Conv" in op})
        fused = sum("Fused" in op and "Conv" in op for op in ran)
        unfused = sum(op == "Conv2D" for op in ran)
        print(f"{name}: conv kernels run after graph optimisation: {convs}; "
              f"fused {fused}, plain Conv2D {unfused}")  # fmt: skip
    times = {name: [] for name in decode}
    for i in range(8):  # interleaved, order alternating
        for name in sorted(decode, reverse=bool(i % 2)):
            times[name].append(best_time(decode[name], latents, rounds=1) / latents.shape[0])
    folded, plain = min(times["folded"]), min(times["plain"])
    print(f"\nexported decode (kernel {kernels[0]}), best of 8 interleaved rounds, batch 8: "
          f"folded {folded * 1e3:.2f} ms/frame, unfolded {plain * 1e3:.2f} ms/frame, "
          f"folded/unfolded {folded / plain:.2f}")  # fmt: skip

    left = graph_ops(saved["folded"]) & (BN_OPS | TRAINING_OPS)
    bn_variables = [v.name for v in saved["folded"].variables if "_bn/" in v.name]
    print(f"folded graph: batch norm or training ops left: {sorted(left) or 'none'}; "
          f"batch norm variables: {bn_variables or 'none'}; "
          f"unfolded graph has Rsqrt: {'Rsqrt' in graph_ops(saved['plain'])}")  # fmt: skip


if __name__ == "__main__":
    app.run(main)
