"""Step 2: contact sheets of RUN/data, one PNG per domain and split, in RUN/data/preview/.

python preview_tiles.py --run_dir runs/demo
"""

from absl import flags, logging
from tqdm import tqdm

from vaest import cli
from vaest.data import preview, records
from vaest.run_dir import RunDir

FLAGS = flags.FLAGS
cli.define_run_dir_flag()
flags.DEFINE_integer("max_tiles", 64, "Most records shown per sheet, spread over the split.", 1)


def main(argv):
    data = RunDir(FLAGS.run_dir).data
    manifest = records.load_manifest(data)
    total = sum(manifest.count(split) for split in records.SPLITS)
    with tqdm(total=total, unit="img", dynamic_ncols=True) as bar:
        sheets = preview.make_sheets(data, FLAGS.max_tiles, progress=bar)
    for path in sheets:
        logging.info("wrote %s", path)


if __name__ == "__main__":
    cli.run(main)
