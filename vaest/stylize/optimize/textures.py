"""What --method optimize's texture term pulls toward: a painting domain's tiles, or a style frame.

The tiles are cut from the domain's paintings (the export's manifest lists them) at the working
size, as extract_tiles.py cuts them at the model size (vaest.io.imaging.tile_boxes): the
strokes then keep their size in pixels whatever the model size. Paintings no longer on disk fall
back to the tiles recorded in RUN/data, at the model size.

The manifest's paths are the export's word, and an export may come from anyone: a relative path
is taken from the run folder (never the current one), and a path outside the run is read only
when the export is trusted (--trust_export, vaest.export.trust), as its ops would be.

A target is, per VGG layer (relu1_2, relu2_2, relu3_3), a pool of feature vectors [1, P, C] for
the sliced Wasserstein term, or the mean Gram matrix [C, C] for the Gram term. A mix of domains
(--target wave:0.7,scream:0.3, or a timeline's transition) mixes the pools in proportion.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from absl import logging

from vaest.errors import MissingStep
from vaest.export.read import recorded_tiles
from vaest.io import imaging
from vaest.io.imaging import tile_boxes
from vaest.measure.feature_loss import POOL_POSITIONS
from vaest.measure.features import TextureFeatures, texture_statistics
from vaest.run_dir import RunDir

TEXTURE_LAYERS = 3  # relu1_2, relu2_2, relu3_3
TILES_PER_DOMAIN = 24
TILE_SEED = 0


def painting_paths(exported, name: str) -> list[Path]:
    """The paintings of a domain that may be read: the manifest's paths, relative ones taken
    from the run folder; outside it only for a trusted export. One warning line each for the
    paintings left out and for those missing."""
    run = exported.folder.parent.resolve()
    sources = exported.manifest.domain(name).sources
    paths = [(run / p).resolve() for p in sources]  # an absolute path stays itself
    if not exported.trusted:
        outside = [p for p in paths if not p.is_relative_to(run)]
        if outside:
            logging.warning(
                "%d of the %d paintings of %s lie outside %s (%s): an export's paths there are "
                "read only with --trust_export",
                len(outside), len(paths), name, run, outside[0],
            )  # fmt: skip
            paths = [p for p in paths if p.is_relative_to(run)]
    readable = [p for p in paths if p.is_file()]  # not a FIFO or a folder either
    if len(readable) < len(paths):
        missing = [p for p in paths if p not in readable]
        logging.warning(
            "%d of the %d paintings of %s are missing (%s): texture from the %d found",
            len(missing), len(paths), name, missing[0], len(readable),
        )  # fmt: skip
    return readable


def painting_tiles(exported, name: str, size: tuple[int, int], count=TILES_PER_DOMAIN):
    """float32 [N, H, W, 3]: tiles of a painting domain's paintings at `size` (height, width)."""
    readable = painting_paths(exported, name)
    if not readable:
        run = exported.folder.parent
        tiles = recorded_tiles(run, name)
        data = RunDir(run).data
        if tiles is None:
            raise MissingStep(
                f"--method optimize needs the paintings of {name!r} or their tiles in {data}; "
                "neither is there"
            )
        logging.info("no painting of %s to read: texture from the tiles in %s", name, data)
        if not len(tiles):
            raise MissingStep(f"--method optimize: {data} holds no tiles of {name!r}")
        return tiles
    rng = np.random.default_rng(TILE_SEED)
    per_painting = max(1, count // len(readable))
    tiles = []
    for path in readable:
        painting = imaging.load_image(path)
        for top, left, h, w in tile_boxes(painting.shape[:2], size, per_painting, rng):
            crop = np.ascontiguousarray(painting[top : top + h, left : left + w])
            tiles.append(imaging.resize(crop, *size))
    return imaging.as_float_images(np.stack(tiles))


def sliced_pools(features: TextureFeatures, images: Iterable, seed: int = TILE_SEED) -> list:
    """Per texture layer, [1, POOL_POSITIONS, C]: feature vectors drawn evenly from every image,
    one image's maps at a time (a set of large tiles would not fit at once)."""
    images = list(images)
    rng = np.random.default_rng(seed)
    share = -(-POOL_POSITIONS // len(images))
    layers = [[] for _ in range(TEXTURE_LAYERS)]
    for image in images:
        for layer, maps in enumerate(features(image)[:TEXTURE_LAYERS]):
            vectors = maps.reshape(-1, maps.shape[-1])
            layers[layer].append(vectors[rng.integers(0, len(vectors), share)])
    return [np.concatenate(rows)[:POOL_POSITIONS][None] for rows in layers]


def gram_matrices(features: TextureFeatures, images: Iterable) -> list:
    """Per texture layer, the images' mean Gram matrix [C, C]."""
    return texture_statistics(features, list(images))[:TEXTURE_LAYERS]


def texture_of(features: TextureFeatures, images: Iterable, kind: str) -> list:
    """The target of images (float [H, W, 3] each): pools for sliced, Gram matrices for gram."""
    return sliced_pools(features, images) if kind == "sliced" else gram_matrices(features, images)


def mix(targets: list[list[np.ndarray]], weights, kind: str) -> list[np.ndarray]:
    """Several domains' targets mixed by weights summing to 1: pools share their rows in
    proportion (each pool is a random sample, so its first rows are one too); Gram matrices are
    averaged."""
    weights = np.asarray(weights, np.float64)
    if len(targets) == 1:
        return targets[0]
    if kind == "gram":
        return [
            sum(w * t[i] for w, t in zip(weights, targets, strict=True))
            for i in range(TEXTURE_LAYERS)
        ]
    counts = np.floor(weights * POOL_POSITIONS).astype(int)
    counts[np.argmax(weights)] += POOL_POSITIONS - counts.sum()
    return [
        np.concatenate([t[i][:, :n] for t, n in zip(targets, counts, strict=True)], axis=1)
        for i in range(TEXTURE_LAYERS)
    ]


class TextureSchedule:
    """The texture target at each frame time, following a TargetSchedule's mix of domains: each
    domain's target is made once, the mixes are cached."""

    def __init__(self, features, exported, schedule, size: tuple[int, int], kind: str):
        self.schedule = schedule
        self.kind = kind
        self.targets = [
            texture_of(features, painting_tiles(exported, name, size), kind)
            for name in schedule.names
        ]
        self._cached = (None, None)

    def at(self, time: float) -> list[np.ndarray]:
        weights = tuple(np.round(self.schedule.weights_at(time)[0], 3))
        if self._cached[0] != weights:
            self._cached = (weights, mix(self.targets, weights, self.kind))
        return self._cached[1]


class StyleTextures:
    """The texture target by time of --target_video: the style frame's, at the working size."""

    def __init__(self, features, frames, size: tuple[int, int], kind: str):
        """frames: the plan's vaest.stylize.style_video.StyleFrames."""
        self._target = lambda frame: texture_of(features, [frame], kind)
        self.frames = frames
        self.size = size
        self._cached = (None, None)

    def at(self, time: float):
        index = self.frames.index_at(time)
        if self._cached[0] != index:
            frame = imaging.as_float_images(self.frames.at(time, self.size))
            self._cached = (index, self._target(frame))
        return self._cached[1]
