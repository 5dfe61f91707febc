"""Step 3: train the convolutional VAE on the records in RUN/data, into RUN/vae.

Resumes from RUN/vae's newest checkpoint, continuing to --steps in total.
"""

from absl import flags

from vaest import cli
from vaest.errors import UserError
from vaest.models.config import ACTIVATIONS
from vaest.run_dir import RunDir

cli.define_training_flags(steps=10000, batch_size=50)
flags.DEFINE_float("beta", 1.0, "Weight of the KL term.")
flags.DEFINE_integer("kl_warmup_steps", 0, "Ramp beta up linearly over this many steps.")
flags.DEFINE_list("domains", None, "Train on these domains only (default: all).")
flags.DEFINE_bool("flip", True, "Flip training images left-right at random.")
flags.DEFINE_list("filters", ["64", "64", "128", "128", "192", "256"], "Encoder filters per layer.")
flags.DEFINE_list("kernels", ["7", "5", "5", "3", "3", "3"], "Encoder kernel sizes per layer.")
flags.DEFINE_integer(
    "output_kernel", 3,
    "Kernel of the decoder's last, full-resolution conv to RGB (0: the first of --kernels).",
)  # fmt: skip
flags.DEFINE_integer("latent_dim", 512, "Width of the latent code.")
flags.DEFINE_enum("activation", "elu", ACTIVATIONS, "Activation after each convolution.")
flags.DEFINE_enum("normalization", "batch", ["batch", "none"], "Normalisation after each conv.")
flags.DEFINE_enum(
    "upsampling", "resize", ["resize", "transpose"],
    "Decoder upsampling: resize (nearest + conv, no checkerboard) or transpose convolution.",
)  # fmt: skip
FLAGS = flags.FLAGS

CONFIG_FLAGS = {
    "filters": lambda v: tuple(int(x) for x in v),
    "kernels": lambda v: tuple(int(x) for x in v),
    "output_kernel": int,
    "latent_dim": int,
    "activation": str,
    "normalization": str,
    "upsampling": str,
    "beta": float,
}


def main(argv):
    from vaest.train.checkpoints import latest_step
    from vaest.train.vae import VaeSettings, train_vae

    settings = cli.settings_from_flags(VaeSettings)
    try:
        # Flags given on the command line override the saved config, and must agree with it.
        overrides = {
            k: cast(FLAGS[k].value) for k, cast in CONFIG_FLAGS.items() if FLAGS[k].present
        }
    except ValueError as err:
        raise UserError(f"bad model flag: {err}") from None
    figures = train_vae(FLAGS.run_dir, settings, overrides)
    step = latest_step(RunDir(FLAGS.run_dir).vae)
    print(f"vae: at step {step} in {FLAGS.run_dir}/vae; validation: {figures}")


if __name__ == "__main__":
    cli.run(main)
