"""The record format of RUN/data: tf.train.Example shards and manifest.json.

One Example per image, in gzipped TFRecord shards named `{split}-{n:05d}.tfrecord.gz`. The manifest
is the only thing later steps need to know about the data.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vaest.errors import MissingStep, UserError
from vaest.io.imaging import as_float_images
from vaest.run_dir import MANIFEST

SPLITS = ("train", "val")
COMPRESSION = "GZIP"


@dataclass
class Domain:
    id: int
    name: str
    kind: str  # "video" or "painting"
    sources: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    fps: float | None = None  # videos only


@dataclass
class Manifest:
    image_size: tuple[int, int]  # (height, width)
    domains: list[Domain]
    shards: dict[str, list[str]]  # split -> shard file names, relative to the data folder
    options: dict = field(default_factory=dict)
    version: int = 1

    def domain(self, name: str) -> Domain:
        for domain in self.domains:
            if domain.name == name:
                return domain
        names = ", ".join(d.name for d in self.domains)
        raise UserError(f"no domain named {name!r}; the domains are: {names}")

    def count(self, split: str) -> int:
        return sum(d.counts.get(split, 0) for d in self.domains)

    @property
    def fit(self) -> str:
        return self.options.get("fit", "crop")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        raw["image_size"] = tuple(raw["image_size"])
        raw["domains"] = [Domain(**d) for d in raw["domains"]]
        return cls(**raw)

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """The manifest in a file; an empty, cut or edited one is a one-line error naming it."""
        try:
            manifest = cls.from_json(Path(path).read_text())
            sizes_ok = len(manifest.image_size) == 2 and all(
                isinstance(s, int) and s > 0 for s in manifest.image_size
            )
            if not sizes_ok or not isinstance(manifest.shards, dict):
                raise ValueError("bad image_size or shards")
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise UserError(
                f"{path} is not a valid manifest ({type(err).__name__}: {err}): "
                "run extract_tiles.py again"
            ) from None
        return manifest


def load_manifest(data_dir: str | Path) -> Manifest:
    """Read RUN/data/manifest.json; MissingStep if the folder holds no finished extraction."""
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        raise MissingStep(
            f"no extracted data in {data_dir} (no {MANIFEST}): "
            f"run `python extract_tiles.py --run_dir {Path(data_dir).parent}` first"
        )
    return Manifest.read(path)


@contextmanager
def damage_reported(data_dir: str | Path) -> Iterator[None]:
    """Turn TensorFlow's error for a cut or corrupt shard into a one-line error naming it."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.DataLossError as err:
        damaged = damaged_shards(data_dir)
        names = ", ".join(str(p) for p in damaged) or f"a shard in {data_dir}"
        # TensorFlow's words without its graph names: "truncated record at 35951 ... EOF reached"
        lines = err.message.splitlines() or [""]
        line = next((x for x in lines if re.search(r"truncated|corrupt|EOF|checksum", x)), lines[0])
        words = re.sub(r"\{\{.*?\}\}|\s*\[Op:.*|'|\s*\[\[.*", "", line).strip()
        raise UserError(
            f"{names}: damaged record file ({words}): run extract_tiles.py again"
        ) from None


def damaged_shards(data_dir: str | Path) -> list[Path]:
    """The shards of RUN/data that cannot be read to the end (reads every record)."""
    import tensorflow as tf

    manifest = load_manifest(data_dir)
    damaged = []
    for name in (n for split in SPLITS for n in manifest.shards.get(split, [])):
        path = Path(data_dir) / name
        try:
            for _ in tf.data.TFRecordDataset(str(path), compression_type=COMPRESSION):
                pass
        except (tf.errors.DataLossError, tf.errors.NotFoundError):
            damaged.append(path)
    return damaged


def split_of(key: str, val_fraction: float) -> str:
    """A stable split: the same key always lands in the same split, on any machine."""
    return "val" if split_hash(key) < val_fraction else "train"


def stable_int(key: str) -> int:
    """A 64-bit integer from a key, the same on every machine and Python run (unlike hash())."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")


def split_hash(key: str) -> float:
    """stable_int scaled to [0, 1)."""
    return stable_int(key) / 2.0**64


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def make_example(
    image: np.ndarray,
    domain: Domain,
    source: str,
    index: int,
    image_format: str = "png",
) -> bytes:
    """Serialize one uint8 RGB image and its labels as a tf.train.Example."""
    import tensorflow as tf

    encoded = encode_png(image) if image_format == "png" else encode_jpeg(image)

    def _bytes(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    features = {
        "image": _bytes(encoded),
        "height": _int(image.shape[0]),
        "width": _int(image.shape[1]),
        "domain_id": _int(domain.id),
        "domain_name": _bytes(domain.name.encode("utf-8")),
        "source": _bytes(source.encode("utf-8")),
        "index": _int(index),
    }
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString()


def parse_example(serialized, image_size: tuple[int, int]):
    """tf.data map function: serialized Example -> dict with a uint8 image of image_size."""
    import tensorflow as tf

    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "height": tf.io.FixedLenFeature([], tf.int64),
        "width": tf.io.FixedLenFeature([], tf.int64),
        "domain_id": tf.io.FixedLenFeature([], tf.int64),
        "domain_name": tf.io.FixedLenFeature([], tf.string),
        "source": tf.io.FixedLenFeature([], tf.string),
        "index": tf.io.FixedLenFeature([], tf.int64),
    }
    parsed = tf.io.parse_single_example(serialized, spec)
    image = tf.io.decode_image(parsed["image"], channels=3, expand_animations=False)
    parsed["image"] = tf.ensure_shape(image, (*image_size, 3))
    return parsed


def serialized_dataset(data_dir: str | Path, split: str, manifest: Manifest | None = None):
    """The raw serialized records of one split, shard after shard, in a fixed order."""
    import tensorflow as tf

    manifest = manifest or load_manifest(data_dir)
    files = [str(Path(data_dir) / name) for name in manifest.shards.get(split, [])]
    if not files:
        return tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))
    return tf.data.TFRecordDataset(files, compression_type=COMPRESSION)


def read_records(
    data_dir: str | Path,
    split: str,
    manifest: Manifest | None = None,
    domain_ids: list[int] | None = None,
):
    """Decoded records of one split in a fixed order: the reader every step uses."""
    import tensorflow as tf

    manifest = manifest or load_manifest(data_dir)
    ds = serialized_dataset(data_dir, split, manifest)
    ds = ds.map(
        lambda s: parse_example(s, manifest.image_size),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if domain_ids is not None:
        wanted = tf.constant(list(domain_ids), tf.int64)
        ds = ds.filter(lambda r: tf.reduce_any(tf.equal(r["domain_id"], wanted)))
    return ds


def domain_images(data_dir: str | Path, split: str, name: str) -> np.ndarray:
    """Every image of one domain in one split, in stored order: float32 [N, H, W, 3] in [0, 1]."""
    manifest = load_manifest(data_dir)
    ids = [d.id for d in manifest.domains if d.name == name]
    if not ids:
        raise UserError(f"no domain named {name!r} in {data_dir}")
    records = read_records(data_dir, split, manifest, ids).as_numpy_iterator()
    images = [r["image"] for r in records]
    if not images:
        return np.zeros((0, *manifest.image_size, 3), np.float32)
    return as_float_images(np.stack(images))
