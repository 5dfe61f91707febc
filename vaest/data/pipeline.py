"""The tf.data input of training: balanced domains, shuffled across shards, resumable exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from vaest.data.records import COMPRESSION, Manifest, parse_example
from vaest.errors import UserError

# Shards hold a domain's records in order (a video's frames in time order), so the shuffle
# buffer is as large as memory comfortably allows: this many bytes of encoded records.
SHUFFLE_BYTES = 512 * 2**20
MIN_SHUFFLE = 1024
_FILTER_SPEC = {"domain_id": tf.io.FixedLenFeature([], tf.int64)}


@dataclass
class Mix:
    """How often each domain is drawn, against how many records it has."""

    names: list[str]
    weights: list[float]
    counts: list[int]

    def describe(self) -> str:
        parts = []
        for name, weight, count in zip(self.names, self.weights, self.counts, strict=True):
            parts.append(f"{name} {weight:.0%} of draws from {count:,} records")
        return "; ".join(parts)


def select_domains(manifest: Manifest, names: list[str] | None) -> list:
    if not names:
        return [d for d in manifest.domains if d.counts.get("train", 0) > 0]
    chosen = [manifest.domain(name) for name in names]  # the error names the known domains
    empty = [d.name for d in chosen if d.counts.get("train", 0) == 0]
    if empty:
        raise UserError(f"domains without training records: {', '.join(empty)}")
    return chosen


def shuffle_buffer(files: list[str], records: int) -> int:
    """Records held for shuffling: up to SHUFFLE_BYTES of them, at least MIN_SHUFFLE."""
    size = sum(Path(f).stat().st_size for f in files)
    per_record = max(1, size // max(1, records))
    return int(min(max(MIN_SHUFFLE, SHUFFLE_BYTES // per_record), max(records, 1)))


def _domain_stream(files: list[str], domain_id: int, seed: int, buffer: int):
    """One domain's serialized records, shuffled across its shards, repeated forever."""
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.shuffle(len(files), seed=seed)
    ds = ds.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=COMPRESSION),
        cycle_length=min(4, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.filter(
        lambda s: tf.equal(tf.io.parse_single_example(s, _FILTER_SPEC)["domain_id"], domain_id)
    )
    return ds.shuffle(buffer, seed=seed + domain_id).repeat()


def training_dataset(
    data_dir: str | Path,
    manifest: Manifest,
    batch_size: int,
    domain_names: list[str] | None = None,
    seed: int = 0,
    flip: bool = True,
    start_step: int = 0,
    with_domain_ids: bool = False,
) -> tuple[tf.data.Dataset, Mix]:
    """Batches of uint8 images [B,H,W,3], domains drawn with equal weight; with_domain_ids:
    batches of (images, int32 domain ids [B]).

    Every random choice is seeded and the stream is skipped by `start_step` batches before any
    image is decoded, so a resumed run sees exactly the batches a straight run would have seen.
    """
    domains = select_domains(manifest, domain_names)
    files = [str(Path(data_dir) / name) for name in manifest.shards["train"]]
    buffer = shuffle_buffer(files, manifest.count("train"))
    streams = [_domain_stream(files, d.id, seed, buffer) for d in domains]
    weights = [1.0 / len(domains)] * len(domains)
    ds = (
        tf.data.Dataset.sample_from_datasets(streams, weights=weights, seed=seed)
        if len(streams) > 1
        else streams[0]
    )
    first = start_step * batch_size
    ds = ds.skip(first).enumerate(start=first)
    size = tuple(manifest.image_size)

    def decode(index, serialized):
        parsed = parse_example(serialized, size)
        image = parsed["image"]
        if flip:
            coin = tf.random.stateless_uniform([], seed=tf.stack([tf.cast(seed, tf.int64), index]))
            image = tf.cond(coin < 0.5, lambda: tf.reverse(image, axis=[1]), lambda: image)
        if with_domain_ids:
            return image, tf.cast(parsed["domain_id"], tf.int32)
        return image

    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    mix = Mix([d.name for d in domains], weights, [d.counts["train"] for d in domains])
    return ds, mix


def validation_dataset(data_dir: str | Path, manifest: Manifest, batch_size: int):
    """Batches of the validation split, in a fixed order, with their domain ids."""
    from vaest.data.records import read_records

    ds = read_records(data_dir, "val", manifest)
    ds = ds.map(lambda r: (r["image"], r["domain_id"]))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
