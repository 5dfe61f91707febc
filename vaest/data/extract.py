"""Step 1: turn videos and folders of paintings into gzipped TFRecord shards and a manifest.

Every input belongs to a named domain. A video gives every Nth frame; a painting gives itself,
fitted whole, plus random tiles at the model's aspect ratio. Each image becomes one record, put
in the train or val split by a stable hash of its key `{domain}:{source name}:{index}`.
Everything is written to a temporary folder beside RUN/data and renamed into place at the end.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from absl import logging

from vaest.data import records
from vaest.data.sources import VIDEO, DomainPlan, Options, check_output, size_text
from vaest.errors import UserError
from vaest.io import imaging, video
from vaest.io.atomic import disk_full, staged_folder
from vaest.io.imaging import tile_boxes
from vaest.io.lock import folder_lock
from vaest.run_dir import MANIFEST, RunDir


@dataclass
class RecordTask:
    """One record to make: build() returns the image, run in a worker thread."""

    source: str
    index: int
    key: str
    build: Callable[[], np.ndarray] = field(repr=False)


def frame_image(frame: np.ndarray, options: Options) -> np.ndarray:
    """A video frame with options.crop's margins cut, fitted to options.image_size."""
    top, left, bottom, right = options.crop
    height, width = frame.shape[:2]
    frame = frame[top : height - bottom, left : width - right]
    return imaging.fit_image(frame, options.image_size, options.fit)


def _video_jobs(plan: DomainPlan, options: Options) -> Generator[RecordTask]:
    source = plan.sources[0]
    frames = video.iter_frames(source.path)
    try:
        # An exact stride: count every decoded frame and keep frames 0, N, 2N, ...
        for index, frame in enumerate(frames):
            if index % options.frame_stride == 0:
                key = f"{plan.domain.name}:{source.name}:{index}"
                yield RecordTask(
                    str(source.path), index, key, lambda f=frame: frame_image(f, options)
                )
    except video.VideoError as err:
        raise UserError(str(err)) from None
    finally:
        frames.close()


def _tile_image(painting: np.ndarray, box, flip: bool, size: tuple[int, int]) -> np.ndarray:
    top, left, h, w = box
    tile = imaging.resize(np.ascontiguousarray(painting[top : top + h, left : left + w]), *size)
    return np.ascontiguousarray(tile[:, ::-1]) if flip else tile


def _painting_jobs(plan: DomainPlan, options: Options) -> Generator[RecordTask]:
    size = options.image_size
    used = []
    for source in plan.sources:
        try:
            painting = imaging.load_image(source.path, options.max_pixels)
        except imaging.ImageTooLarge as err:
            raise UserError(str(err)) from None
        except imaging.ImageError as err:
            logging.warning("skipping %s", err)
            plan.problems.append(str(err))
            continue
        used.append(str(source.path))
        if painting.shape[0] < size[0] or painting.shape[1] < size[1]:
            logging.warning(
                "%s: %s (HxW) is smaller than the %s tile size; upscaling it",
                source.path, size_text(painting.shape[:2]), size_text(size),
            )  # fmt: skip
        key = f"{plan.domain.name}:{source.name}"
        # Seeded by the painting's own key, so its tiles do not depend on the other inputs.
        rng = np.random.default_rng([options.seed, records.stable_int(key)])
        boxes = tile_boxes(painting.shape[:2], size, options.tiles_per_painting, rng)
        flips = rng.random(len(boxes)) < 0.5 if options.flip_tiles else [False] * len(boxes)
        path = str(source.path)
        yield RecordTask(
            path, 0, f"{key}:0", lambda p=painting: imaging.fit_image(p, size, options.fit)
        )
        for index, (box, flip) in enumerate(zip(boxes, flips, strict=True), start=1):
            build = lambda p=painting, b=box, f=flip: _tile_image(p, b, f, size)  # noqa: E731
            yield RecordTask(path, index, f"{key}:{index}", build)
    plan.domain.sources = used


def _ordered_results(jobs: Generator[RecordTask], make: Callable[[RecordTask], bytes]):
    """(job, make(job)) in job order, made by a thread pool (PIL encodes without the GIL) with a
    few jobs per worker in flight, so that memory stays bounded."""
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = workers or 1
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: deque = deque()
    try:
        for job in jobs:
            pending.append((job, pool.submit(make, job)))
            if len(pending) >= 4 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        jobs.close()
        pool.shutdown(wait=True, cancel_futures=True)


class ShardWriter:
    """Gzipped TFRecord shards `{split}-{n:05d}.tfrecord.gz` of at most shard_size records."""

    def __init__(self, folder: Path, shard_size: int):
        import tensorflow as tf

        self._tf = tf
        self.folder = folder
        self.shard_size = shard_size
        self.shards: dict[str, list[str]] = {split: [] for split in records.SPLITS}
        self._writers: dict[str, object] = {}
        self._counts: dict[str, int] = {}

    def write(self, split: str, record: bytes) -> None:
        if split not in self._writers or self._counts[split] >= self.shard_size:
            self._close(split)
            name = f"{split}-{len(self.shards[split]):05d}.tfrecord.gz"
            # Gzip only as a container (level 0): the PNG or JPEG payload is already compressed,
            # and deflating it again saved under 1% of the size for a quarter of the time.
            options = self._tf.io.TFRecordOptions(
                compression_type=records.COMPRESSION, compression_level=0
            )
            self._writers[split] = self._tf.io.TFRecordWriter(str(self.folder / name), options)
            self.shards[split].append(name)
            self._counts[split] = 0
        with self._disk_full_named(split):
            self._writers[split].write(record)
        self._counts[split] += 1

    @contextmanager
    def _disk_full_named(self, split: str) -> Iterator[None]:
        try:
            yield
        except (self._tf.errors.OpError, OSError) as err:
            full = disk_full(err, self.folder / self.shards[split][-1])
            if full is not None:
                raise full from None
            raise

    def _close(self, split: str) -> None:
        writer = self._writers.pop(split, None)
        if writer is not None:
            with self._disk_full_named(split):
                writer.close()

    def close(self) -> None:
        for split in list(self._writers):
            self._close(split)


def _write_domain(plan: DomainPlan, options: Options, shards: ShardWriter, progress) -> None:
    domain = plan.domain
    domain.counts = {split: 0 for split in records.SPLITS}
    plan.problems.clear()
    fmt = options.image_format
    jobs = _video_jobs(plan, options) if domain.kind == VIDEO else _painting_jobs(plan, options)

    def make(job: RecordTask) -> bytes:
        return records.make_example(job.build(), domain, job.source, job.index, fmt)

    def write(split: str, record: bytes) -> None:
        shards.write(split, record)
        domain.counts[split] += 1

    # The train record with the smallest split hash is held back: if the domain ends with no
    # val record, it goes to val instead, so that every domain can be evaluated.
    held: tuple[float, bytes] | None = None
    with closing(_ordered_results(jobs, make)) as results:
        for job, record in results:
            rank = records.split_hash(job.key)
            if records.split_of(job.key, options.val_fraction) == "val":
                write("val", record)
            elif held is not None and rank >= held[0]:
                write("train", record)
            else:
                if held is not None:
                    write("train", held[1])
                held = (rank, record)
            if progress is not None:
                progress.update(1)
    if held is not None:
        total = sum(domain.counts.values()) + 1
        wants_val = options.val_fraction > 0 and domain.counts["val"] == 0 and total >= 2
        write("val" if wants_val else "train", held[1])
    if not sum(domain.counts.values()):
        if domain.kind == VIDEO:
            raise UserError(f"{plan.given}: the video has no frames (domain {domain.name})")
        raise UserError(
            f"{plan.given}: none of the {len(plan.sources)} image(s) could be read "
            f"(domain {domain.name}; first: {plan.problems[0]})"
        )


def extract(
    plans: list[DomainPlan],
    options: Options,
    run_dir: str | Path,
    overwrite: bool = False,
    progress=None,
) -> records.Manifest:
    """Write every domain's records and the manifest to RUN/data, all or nothing.

    progress, if given, is a tqdm-like object: update(1) per record, set_description(name).
    """
    run_dir = Path(run_dir)
    check_output(run_dir, overwrite)
    created_run_dir = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        data = RunDir(run_dir).data
        with folder_lock(data, "extracting into"), staged_folder(data) as tmp:
            shards = ShardWriter(tmp, options.shard_size)
            try:
                for plan in plans:
                    if progress is not None:
                        progress.set_description(plan.domain.name)
                    _write_domain(plan, options, shards, progress)
            finally:
                shards.close()
            manifest = records.Manifest(
                image_size=tuple(options.image_size),
                domains=[plan.domain for plan in plans],
                shards=shards.shards,
                options=options.to_manifest(),
            )
            (tmp / MANIFEST).write_text(manifest.to_json())
            # Again: another extraction may have finished into RUN/data meanwhile.
            check_output(run_dir, overwrite)
    except BaseException:
        if created_run_dir and not any(run_dir.iterdir()):
            run_dir.rmdir()
        raise
    return manifest


def summary(manifest: records.Manifest, data: str | Path) -> str:
    """A per-domain table of the records written."""
    rows = [("domain", "kind", "train", "val", "sources")]
    for d in manifest.domains:
        rows.append(
            (d.name, d.kind, str(d.counts["train"]), str(d.counts["val"]), str(len(d.sources)))
        )
    rows.append(("total", "", str(manifest.count("train")), str(manifest.count("val")), ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    shards = ", ".join(f"{len(names)} {split}" for split, names in manifest.shards.items())
    lines.append(f"wrote {data} ({shards} shards of {size_text(manifest.image_size)} images)")
    return "\n".join(lines)
