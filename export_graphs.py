"""Step 5: export RUN/vae and RUN/refiner as a SavedModel plus latents.npz, into RUN/export.

Without a trained refiner the VAE is exported alone: `stylize` then skips refinement.
"""

from absl import flags

from vaest import cli

cli.define_run_dir_flag()
FLAGS = flags.FLAGS


def main(argv):
    from vaest.export.write import export

    folder = export(FLAGS.run_dir)
    print(f"export: wrote {folder}")


if __name__ == "__main__":
    cli.run(main)
