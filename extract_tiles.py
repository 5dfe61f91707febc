"""Step 1: turn videos and folders of paintings into training records under RUN/data.

    python extract_tiles.py --run_dir runs/demo
        --video clip=data/videos/clip.mp4 --paintings art=data/paintings/art

Domain ids follow the flags: every --video in the order given, then every --paintings.
"""

from absl import flags, logging
from tqdm import tqdm

from vaest import cli
from vaest.data import extract, sources
from vaest.io import imaging
from vaest.run_dir import RunDir

FLAGS = flags.FLAGS
cli.define_run_dir_flag()
flags.DEFINE_multi_string("video", [], "A video domain, NAME=PATH. Repeatable.")
flags.DEFINE_multi_string(
    "paintings",
    [],
    "A painting domain, NAME=FOLDER (searched recursively), NAME=IMAGE or NAME='GLOB'. Repeatable.",
)
flags.DEFINE_string(
    "image_size", "72x128",
    "Model image size, HEIGHTxWIDTH (the original's was 180x320; mogrify keeps the frame's own "
    "detail at any output size).",
)  # fmt: skip
flags.DEFINE_integer("frame_stride", 10, "Keep exactly every Nth video frame: 0, N, 2N ...", 1)
flags.DEFINE_string("crop", "0,0,0,0", "Pixels cut from each video frame: TOP,LEFT,BOTTOM,RIGHT.")
flags.DEFINE_enum("fit", "crop", imaging.FIT_MODES, "How frames and whole paintings fit the size.")
flags.DEFINE_integer(
    "tiles_per_painting", 32, "Random tiles per painting, besides the whole painting.", 0
)
flags.DEFINE_boolean("flip_tiles", True, "Mirror about half of the random tiles.")
flags.DEFINE_float("val_fraction", 0.05, "Fraction of records held out for validation.", 0, 1)
flags.DEFINE_integer("seed", 0, "Seed of the random tiles.")
flags.DEFINE_integer("shard_size", 2000, "Records per shard file.", 1)
flags.DEFINE_enum("image_format", "png", sources.IMAGE_FORMATS, "png is lossless; jpeg is smaller.")
flags.DEFINE_integer(
    "max_pixels", imaging.MAX_PIXELS, "Refuse larger images (possible decompression bombs).", 1
)
flags.DEFINE_boolean("overwrite", False, "Replace an existing RUN/data once the new one is done.")
flags.DEFINE_string(
    "paint_data_size", "",
    "Also keep, in RUN/data/paint, the videos' frames and the paintings at this size, HxW (e.g. "
    "360x640: the output size the painter will mostly paint; it trains at 1/its --brush of "
    "it): what train_refiner.py --painter trains on. Empty: none.",
)  # fmt: skip
flags.DEFINE_string("paint_size", None, "Retired: renamed --paint_data_size (HxW).")
flags.DEFINE_integer(
    "paint_frames", 600, "With --paint_data_size: keep the first N frames of each video.", 2
)


def main(argv):
    cli.refuse_flags(["paint_size"], "renamed --paint_data_size (HEIGHTxWIDTH)")
    # Every flag is checked before --overwrite lets the extraction replace RUN/data.
    options = cli.settings_from_flags(
        sources.Options,
        image_size=sources.parse_image_size(FLAGS.image_size),
        crop=sources.parse_crop(FLAGS.crop),
    )
    paint_size = (
        sources.parse_paint_data_size(FLAGS.paint_data_size) if FLAGS.paint_data_size else None
    )
    sources.check_output(FLAGS.run_dir, FLAGS.overwrite)
    plans = sources.plan_domains(FLAGS.video, FLAGS.paintings, options)
    if paint_size:
        sources.require_paint_aspect(plans, paint_size, FLAGS.paint_data_size)
    for plan in plans:
        d = plan.domain
        logging.info("domain %d %s (%s): %d source(s)", d.id, d.name, d.kind, len(plan.sources))
    import tensorflow  # noqa: F401  (loaded before the progress bar starts, so its rate is true)

    total = sum(plan.estimated_records for plan in plans)
    with tqdm(total=total, unit="img", dynamic_ncols=True) as bar:
        manifest = extract.extract(plans, options, FLAGS.run_dir, FLAGS.overwrite, progress=bar)
    print(extract.summary(manifest, RunDir(FLAGS.run_dir).data))
    if paint_size:
        from vaest.data.paint import extract_paint_data

        folder = extract_paint_data(plans, FLAGS.run_dir, paint_size, options, FLAGS.paint_frames)
        print(f"paint data at {sources.size_text(paint_size)} in {folder}")


if __name__ == "__main__":
    cli.run(main)
