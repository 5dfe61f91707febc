"""The painter's training pairs: each video's frames, colour guides and consecutive flows, made
once per run (VideoGuides), and the batches of random crops drawn from them (PairSampler), each
from (seed, step) alone, so that a resumed run draws the same ones.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vaest import flow
from vaest.io.imaging import fit_image, to_uint8
from vaest.measure.painter_gate import held_out_count
from vaest.models.config import PainterConfig
from vaest.upsample import guide_parts


def shifted_decodes(vae, frames: np.ndarray, offsets: np.ndarray, batch: int = 16):
    """(decode(mu) [N,h,w,3], decode(mu + offset_d) [D,N,h,w,3]) at the model size, for frames
    at any size of the model's aspect."""
    size = tuple(vae.config.image_size)
    small = np.stack([fit_image(f, size) for f in to_uint8(frames)]).astype(np.float32) / 255.0
    rebuilt, styled = [], []
    for start in range(0, len(small), batch):
        mean = vae.encode(small[start : start + batch])[0]
        rebuilt.append(vae.decode(mean).numpy())
        styled.append(np.stack([vae.decode(mean + o[None]).numpy() for o in offsets], 1))
    return np.concatenate(rebuilt), np.concatenate(styled).transpose(1, 0, 2, 3, 4)


@dataclass
class VideoGuides:
    """What a video's training pairs are drawn from, made once per run: its frames at the paint
    resolution, the colour guide's parts (vaest.upsample.guide_parts, per painting domain at
    alpha = 1), and each consecutive pair's flow and visibility (vaest.flow.pair_flow). Per
    step, a draw only crops them: DIS flow and the guided filter ran per pair and per step."""

    frames: np.ndarray  # [N, H, W, 3] float32
    bases: np.ndarray  # [N, H, W, 3] float16: the frame, or decode(mu) for the "decode" guide
    changes: np.ndarray  # [D, N, H, W, 3] float16
    flows: np.ndarray  # [N - 1, H, W, 2] float16: brings frame i onto frame i + 1
    visible: np.ndarray  # [N - 1, H, W] bool

    @classmethod
    def made(cls, frames, rebuilt, styled, kind: str) -> VideoGuides:
        """frames at the paint resolution; rebuilt, styled: shifted_decodes of them."""
        parts = [[guide_parts(f, s[i], rebuilt[i], kind) for i, f in enumerate(frames)]
                 for s in styled]  # fmt: skip
        bases = np.stack([base for base, _ in parts[0]]).astype(np.float16)
        changes = np.stack([[c for _, c in domain] for domain in parts]).astype(np.float16)
        pairs = [flow.pair_flow(a, b) for a, b in zip(frames[:-1], frames[1:], strict=True)]
        flows = np.stack([p.flow for p in pairs]).astype(np.float16)
        return cls(frames, bases, changes, flows, np.stack([p.visible for p in pairs]))


def inside_crop(pair_flow: np.ndarray) -> np.ndarray:
    """[H, W] bool: the crop's pixels whose flow lands inside the crop (the rest see a frame
    edge the crop does not hold)."""
    height, width = pair_flow.shape[:2]
    ys, xs = np.mgrid[:height, :width]
    x, y = xs + pair_flow[..., 0], ys + pair_flow[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


class PairSampler:
    """Training batches as numpy arrays, each drawn from (seed, step) alone."""

    def __init__(self, videos: dict, config: PainterConfig, batch: int, seed=0):
        """videos: video name -> its VideoGuides, domains in config.domains order."""
        self.videos, self.config = videos, config
        self.batch, self.seed = batch, seed
        self.names = [v for v in videos if len(videos[v].frames) > 1]
        self.size = next(iter(videos.values())).frames.shape[1:3]

    def side(self, rng) -> int:
        """A crop side in crop_range scaled by 1/brush, in steps of 32 px: the crops cover
        what they would of the frame at full resolution, at 1/brush^2 of VGG's cost."""
        low, high = (round(side / self.config.brush) for side in self.config.crop_range)
        side = 32 * int(rng.integers(max(low // 32, 1), max(high // 32, 1) + 1))
        return max(32, min(side, *self.size))

    def draw(self, step: int, purpose: int = 0) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, max(step, 0), purpose])
        side, count = self.side(rng), len(self.config.domains)
        earlier, later, guides_t, guides_u, flows, visible, ids = ([] for _ in range(7))
        for _ in range(self.batch):
            video = self.videos[self.names[int(rng.integers(len(self.names)))]]
            frames = video.frames
            # the last frames are held out: the export measures the painter on them
            t = int(rng.integers(len(frames) - held_out_count(len(frames)) - 1))
            domain = int(rng.integers(count))
            alpha = 1.0 + self.config.alpha_spread * (2.0 * rng.random() - 1.0)
            top = int(rng.integers(frames.shape[1] - side + 1))
            left = int(rng.integers(frames.shape[2] - side + 1))
            box = (slice(top, top + side), slice(left, left + side))
            for index, frame_list, guide_list in ((t, earlier, guides_t), (t + 1, later, guides_u)):
                base = video.bases[index][box].astype(np.float32)
                change = video.changes[domain, index][box].astype(np.float32)
                frame_list.append(frames[index][box])
                guide_list.append(np.clip(base + alpha * change, 0.0, 1.0))
            pair = video.flows[t][box].astype(np.float32)
            flows.append(pair)
            seen = video.visible[t][box] & inside_crop(pair)
            visible.append(seen[..., None].astype(np.float32))
            ids.append(domain)
        ids = np.array(ids + ids, np.int32)
        return {
            "frames": np.stack(earlier + later),
            "guides": np.stack(guides_t + guides_u),
            "weights": np.eye(count, dtype=np.float32)[ids],
            "domain_ids": ids,
            "flow": np.stack(flows),
            "visible": np.stack(visible),
        }

    def dataset_from(self, step: int) -> tf.data.Dataset:
        spec = {
            "frames": tf.TensorSpec([None, None, None, 3], tf.float32),
            "guides": tf.TensorSpec([None, None, None, 3], tf.float32),
            "weights": tf.TensorSpec([None, len(self.config.domains)], tf.float32),
            "domain_ids": tf.TensorSpec([None], tf.int32),
            "flow": tf.TensorSpec([None, None, None, 2], tf.float32),
            "visible": tf.TensorSpec([None, None, None, 1], tf.float32),
        }
        batches = (self.draw(s) for s in itertools.count(step))
        return tf.data.Dataset.from_generator(lambda: batches, output_signature=spec).prefetch(2)
