"""Step 7: paint a painting domain's look onto a video (with its sound), an image or a folder.

    python mogrify_video.py --run_dir runs/demo --input clip.mp4
    python mogrify_video.py --run_dir runs/demo --input clip.mp4 --output clip.gif --max_frames 50
    python mogrify_video.py --run_dir runs/demo --input photo.jpg --strength 0.5
    python mogrify_video.py --run_dir runs/demo --input clip.mp4 \
        --source_weight 0.25 --target_weight 0.5          # the original's setting
    python mogrify_video.py --run_dir runs/demo --input clip.mp4 \
        --target wave@0,scream@4.5 --transition 2 --keep_colours --side_by_side

Each frame's latent mean moves to z' = mu - a * c_source + b * c_target. --strength sets a = b
(default 1.0); --source_weight and --target_weight set them apart (a weight not given is 0).
Only RUN/export is read.
"""

import functools

from absl import flags, logging
from tqdm import tqdm

from vaest import cli
from vaest.device import DEVICES, GPU_BATCH, PRECISIONS
from vaest.export.read import load_export
from vaest.stylize.job import make_job
from vaest.stylize.methods import AUTO, METHODS
from vaest.stylize.optimize.choices import (
    DEFAULT_ITERATIONS,
    DEFAULT_OPTIMIZE_SIZE,
    DEFAULT_OPTIMIZER,
    DEFAULT_TEXTURE,
    OPTIMIZERS,
    TEXTURES,
)
from vaest.stylize.plan import make_plan
from vaest.stylize.run import run as stylize_run
from vaest.stylize.settings import BATCH_SIZE, SOURCE_AUTO, Settings

cli.define_run_dir_flag()
flags.DEFINE_string("input", None, "A video, an image, or a folder of images.", required=True)
flags.DEFINE_string(
    "output",
    None,
    "A .mp4 or .gif for a video, a .png or .jpg for an image, a folder for a folder. Default: "
    "RUN/out/<input name>-stylized.mp4 (.png for an image; a folder for a folder).",
)
flags.DEFINE_string(
    "target", None,
    "Painting domain to move toward (default: the only one); a mix, wave:0.7,scream:0.3; or a "
    "timeline from each time in seconds of the input, wave@0,scream@4.5 (entries may be mixes).",
)  # fmt: skip
flags.DEFINE_string(
    "source",
    SOURCE_AUTO,
    "c_source: auto (the input's own centroid, from a first pass), a trained domain's name, or "
    "none (c_source = 0).",
)
flags.DEFINE_float(
    "strength",
    None,
    "alpha of z' = mu + alpha (c_target - c_source). Default 1.0 unless a "
    "weight flag is given; not allowed together with them.",
)
flags.DEFINE_float(
    "source_weight", None, "a in z' = mu - a c_source + b c_target (0 if only b is given)."
)
flags.DEFINE_float(
    "target_weight", None, "b in z' = mu - a c_source + b c_target (0 if only a is given)."
)
flags.DEFINE_string(
    "temporal", "flow",
    "Stabilisation of videos: flow blends each frame with the previous output carried along the "
    "input's optical flow, in the pixels that stay visible (a cut resets it); latent is a moving "
    "average of the latents; flow,latent both; none.",
)  # fmt: skip
flags.DEFINE_float(
    "flow_blend", 0.7,
    "w of --temporal flow's blend, in [0, 1): higher is steadier, lower follows.",
)  # fmt: skip
# train_refiner.py's --temporal_weight is the painter's loss weight: this one was renamed.
flags.DEFINE_string("temporal_weight", None, "Renamed --flow_blend.")
flags.DEFINE_float(
    "smoothing", 0.0,
    "Latent moving average across frames, z_t = s z_(t-1) + (1-s) z'_t; 0 = off (0.5 with "
    "--temporal latent).",
)  # fmt: skip
flags.DEFINE_boolean(
    "measure_temporal", False,
    "Report the output's flow-warped temporal error against the input's own (costs a flow pass).",
)  # fmt: skip
flags.DEFINE_boolean(
    "pixel_smoothing", False, "The original's pixel blend: out = 0.2 last + 0.8 current."
)
flags.DEFINE_boolean("no_refine", False, "Skip the refiner: decoder output only.")
flags.DEFINE_enum(
    "method",
    AUTO,
    [AUTO, *METHODS],
    "How the frame's structure is kept: auto is paint when the export has a painter that beat "
    "residual on held-out frames (the log says why it chose), else residual; residual adds "
    "back what the model could not rebuild of the frame (its detail and colour variation, not "
    "its mean colour); refine is the refiner alone (faster: one decode instead of two); split "
    "is the frequency-split baseline; paint is the painter (train_refiner.py --painter) on "
    "residual's picture at the paint resolution; "
    "optimize finds each picture by optimisation toward the frame's content, the paintings' "
    "texture and z''s colours, each frame starting from the last (slow: seconds per frame).",
)
flags.DEFINE_float(
    "detail", 1.0, "How much of the frame's structure is kept, 0-1 (0: the painting's look only)."
)
flags.DEFINE_string("output_size", "source", "source, model, or WIDTHxHEIGHT (e.g. 640x360).")
flags.DEFINE_boolean("inset", False, "Show the source frame, quarter size, in a corner.")
flags.DEFINE_float("start", 0.0, "Start this many seconds into the video.")
flags.DEFINE_float("duration", None, "Stylize only this many seconds.")
flags.DEFINE_integer("max_frames", None, "Stylize at most this many frames.")
flags.DEFINE_integer(
    "batch_size", BATCH_SIZE, f"Frames per model call ({GPU_BATCH} on a GPU if not given)."
)
flags.DEFINE_enum(
    "device", "auto", DEVICES,
    "Where the model runs: auto takes the first GPU TensorFlow sees, else the CPU; gpu without "
    "one is an error.",
)  # fmt: skip
flags.DEFINE_enum(
    "precision", "auto", PRECISIONS,
    "Model arithmetic: auto takes bfloat16 on a CPU that computes it natively (AVX512_BF16 or "
    "AMX), about 3x faster at the same look (>= 40 dB from float32), else float32.",
)  # fmt: skip
flags.DEFINE_integer("crf", 18, "H.264 quality: lower is better, 18 is visually lossless.")
flags.DEFINE_alias("quality", "crf")
flags.DEFINE_boolean(
    "no_audio", False, "Write a silent video instead of muxing the source's sound."
)
# Beyond one style (vaest.stylize.targets, upsample, compose, settings).
flags.DEFINE_float(
    "transition", 1.0, "Seconds a --target timeline takes to move smoothly to each next target."
)
flags.DEFINE_enum(
    "upsample", "guided", ["guided", "resize"],
    "Output larger than the model: guided keeps the frame's own detail at the output size and "
    "upsamples the model's change along its edges (residual and split); resize enlarges the "
    "model's output.",
)  # fmt: skip
flags.DEFINE_boolean(
    "keep_colours", False, "Keep the source's colours: the output's luma, the source's chroma."
)
flags.DEFINE_boolean(
    "side_by_side", False,
    "Write the input and the output side by side (above each other for clips wider than 16:9).",
)  # fmt: skip
cli.define_trust_export_flag()
flags.DEFINE_string(
    "target_video", None,
    "A style video (or image): content frame t takes its target from the style video's frame at "
    "the same time (looping a shorter one), its latent for the latent methods (smoothed over "
    "--transition), its VGG features for --method optimize.",
)  # fmt: skip
# --method optimize (vaest.stylize.optimize.method).
flags.DEFINE_integer(
    "iterations", DEFAULT_ITERATIONS,
    "--method optimize: optimiser iterations per frame (3x for the first frame and after a cut).",
)  # fmt: skip
flags.DEFINE_enum(
    "optimizer", DEFAULT_OPTIMIZER, OPTIMIZERS,
    "--method optimize: lbfgs (tensorflow-probability's L-BFGS) or adam.",
)  # fmt: skip
flags.DEFINE_enum(
    "texture_loss", DEFAULT_TEXTURE, TEXTURES,
    "--method optimize: sliced (Wasserstein distance of VGG features to the paintings' tiles) or "
    "gram (their mean Gram matrices), for comparison.",
)  # fmt: skip
flags.DEFINE_string(
    "paint_size", None,
    "Retired: the painter paints at 1/its brush of --output_size (train_refiner.py --brush).",
)  # fmt: skip
flags.DEFINE_string(
    "optimize_size",
    DEFAULT_OPTIMIZE_SIZE,
    "--method optimize: WIDTHxHEIGHT cap of the size it works at (the output is resized to).",
)
FLAGS = flags.FLAGS


def main(argv):
    cli.refuse_flags(["paint_size"], "retired: the painter paints at 1/its brush of "
                     "--output_size; train it with train_refiner.py --painter --brush")  # fmt: skip
    cli.refuse_flags(["temporal_weight"], "renamed --flow_blend (the flow stabiliser's blend)")
    if FLAGS.target_video:
        cli.refuse_flags(
            ["target"], "--target_video's frames are the targets: give one or the other"
        )
    settings = cli.settings_from_flags(
        Settings,
        refine=not FLAGS.no_refine,
        audio=not FLAGS.no_audio,
        batch_size=FLAGS.batch_size if FLAGS["batch_size"].present else None,
    )
    job = make_job(settings, FLAGS.input, FLAGS.output, FLAGS.run_dir)
    exported = load_export(
        FLAGS.run_dir, settings.device, settings.precision, trust=FLAGS.trust_export
    )
    logging.info("%s -> %s", job.input, job.output)
    progress = functools.partial(tqdm, dynamic_ncols=True)
    result = stylize_run(make_plan(job, exported), exported, progress)
    line = f"mogrify: wrote {result.path} ({result.frames} frames at {result.fps:.1f} frames/s)"
    if result.temporal and result.temporal["ratio"] is None:
        line += f"; no temporal error: {result.temporal['undefined']}"
    elif result.temporal:
        t = result.temporal
        line += (
            f"; temporal error {t['warping_error']:.2e}, the input's {t['input_warping_error']:.2e}"
            f", ratio {t['ratio']:.2f}"
        )
    print(line)


if __name__ == "__main__":
    cli.run(main)
