"""Why the flow stabiliser engages or not: its parts turned off one at a time, at the output size.

Trains (or reuses, with --work_dir) a small run on the paintings of ../shared/data and a pan
over two of its photos, then stylizes clips the model never saw with the default method
(`residual`, guided detail upsampling) at an output size above the model's:
- ../shared/data/videos/tree.avi at its own 320x240 (4:3: letterboxed inside the 16:9 model, as
  a 720x528 film is);
- hard cuts between pans over the four photos, at 640x360;
- both again as a cartoon (flat colours, dark outlines), the kind of picture an animated film
  shows: large flat areas where optical flow has nothing to hold on to.

For each clip it prints the flow-warped error ratio (vaest.flow, the output's error over the
source's, on the same flows) at the model size and at the output size for these variants:
- none: no stabilisation; flow: the default blend (model size, then detail added at full size);
- flow, no input-mismatch fade: the trust is the visibility mask alone;
- flow, trust 1: every pixel blended (visibility and mismatch ignored), cuts still detected;
- flow, no cut detection; flow, cuts by visibility: the input-error jump test off, the
  visible-share test kept; flow, repeats counted: the cut test as it was before repeated frames
  were left out of the shot's typical error (vaest.stylize.stabilize.REPEATED_FRAME_DIFFERENCE);
- flow at the output size: the blend run on the composed output frames with full-size flow;
- resize / resize + flow: the model output resized up without the frame's full-size detail;
and per clip how much of each frame the blend trusts, and how many pairs it took for cuts.
Skips when ../shared/data is absent.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from absl import app, flags

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, begin, cpu_summary, define_training_flags, films, train_run  # noqa: E402

from vaest import flow  # noqa: E402
from vaest.stylize import stabilize  # noqa: E402
from vaest.stylize.stabilize import FlowStabilizer  # noqa: E402

define_training_flags(300, 100, "72x128")
flags.DEFINE_integer("frames", 120, "Frames of each clip to measure.")
flags.DEFINE_float("weight", 0.7, "Flow stabilisation weight w.")
flags.DEFINE_bool("train_only", False, "Train (or resume) the run and stop.")
FLAGS = flags.FLAGS

CUT_PHOTOS = ("chicago", "golden_gate", "hoovertowernight", "tubingen")
SHOT_FRAMES = 30  # a hard cut every 30 frames
CUTS_SIZE = (360, 640)


def panned_shot(photo: np.ndarray, size, frames: int, rng) -> list[np.ndarray]:
    """A straight pan with a slow zoom over a photo: `frames` frames of `size` (uint8)."""
    import cv2

    height, width = photo.shape[:2]
    aspect = size[1] / size[0]
    crop_h = min(height * 0.7, width * 0.7 / aspect)
    start = rng.uniform(0, [width - crop_h * aspect, height - crop_h])
    end = rng.uniform(0, [width - crop_h * aspect * 0.9, height - crop_h * 0.9])
    shots = []
    for t in np.linspace(0.0, 1.0, frames):
        h = crop_h * (1.0 - 0.1 * t)
        x, y = start + t * (end - start)
        box = photo[int(y) : int(y + h), int(x) : int(x + h * aspect)]
        shots.append(cv2.resize(box, (size[1], size[0]), interpolation=cv2.INTER_AREA))
    return shots


def cut_clip(frames: int) -> list[np.ndarray]:
    """Pans over the four photos, a hard cut every SHOT_FRAMES frames."""
    from vaest.io.imaging import load_image

    photos = [load_image(SHARED / "photos" / f"{name}.jpg") for name in CUT_PHOTOS]
    rng = np.random.default_rng(3)
    out = []
    for shot in range(-(-frames // SHOT_FRAMES)):
        out += panned_shot(photos[shot % len(photos)], CUTS_SIZE, SHOT_FRAMES, rng)
    return out[:frames]


def cartoon(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Cel shading: edge-preserving smoothing, 6 levels per channel, dark outlines."""
    import cv2

    out = []
    for frame in frames:
        flat = cv2.bilateralFilter(frame, 9, 60, 9)
        flat = (np.round(flat / 255.0 * 5) * 51).astype(np.uint8)
        edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 80, 160)
        flat[cv2.dilate(edges, np.ones((2, 2), np.uint8)) > 0] = 20
        out.append(flat)
    return out


def clip_from_video(path: Path, frames: int) -> list[np.ndarray]:
    from vaest.io.video import iter_frames

    stream = iter_frames(path)
    try:
        return [f for _, f in zip(range(frames), stream, strict=False)]
    finally:
        stream.close()


@contextlib.contextmanager
def patched(module, **values):
    """Module constants set for the duration of a block (the stabiliser reads them per call)."""
    old = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


class TrustEverything:
    """vaest.flow's functions, with every pixel visible: the blend's trust is then 1 (cuts are
    still found from the input error, as the visible share stays 1)."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)

    def pair_flow(self, earlier, later):
        pair = self._module.pair_flow(earlier, later)
        return self._module.PairFlow(pair.flow, np.ones_like(pair.visible))


def stylized_at_model_size(exported, frames, geometry, shift, stabilizer=None):
    from vaest.stylize.stylizer import Stylizer

    fitted = np.stack([geometry.fit(f) for f in frames])
    stylizer = Stylizer(exported, shift, method="residual", stabilizer=stabilizer)
    return fitted, np.concatenate([stylizer(fitted[i : i + 8]) for i in range(0, len(fitted), 8)])


class RepeatsCounted(FlowStabilizer):
    """The stabiliser as it was: a repeated frame counts toward the shot's typical error."""

    def _is_cut(self, pair, input_error: float, repeated: bool) -> bool:
        return super()._is_cut(pair, input_error, False)


def composed(geometry, upsample: str, styled, fitted, frames) -> list[np.ndarray]:
    from vaest.stylize.compose import Composer
    from vaest.stylize.settings import Settings

    compose = Composer(geometry, Settings(detail=1.0, upsample=upsample), "residual")
    return [compose(s, f, None, frame) for s, f, frame in zip(styled, fitted, frames, strict=True)]


def trust_diagnostics(fitted: np.ndarray) -> dict:
    """Per pair at the model size: visible share, mean input-mismatch fade, mean trust."""
    shares, fades, trusts = [], [], []
    for earlier, later in zip(fitted[:-1], fitted[1:], strict=True):
        pair = flow.pair_flow(earlier, later)
        mismatch = flow.squared_difference(earlier, later, pair.flow)
        fade = np.exp(-stabilize.INPUT_MISMATCH_SCALE * mismatch)
        shares.append(pair.visible_share)
        fades.append(float(fade.mean()))
        trusts.append(float((pair.visible * fade).mean()))
    return {
        "visible_share": float(np.mean(shares)),
        "lowest_visible_share": float(np.min(shares)),
        "mismatch_fade": float(np.mean(fades)),
        "trust": float(np.mean(trusts)),
    }


def ratios(outputs, flows, input_errors: np.ndarray) -> tuple[float, float]:
    """The flow-warped error ratio over every pair, and over the pairs that are not cuts (less
    than MIN_VISIBLE_SHARE of the frame visible, the stabiliser's own rule)."""
    from vaest.flow import RATIO_EPSILON, warping_error
    from vaest.stylize.stabilize import MIN_VISIBLE_SHARE

    errors = warping_error(outputs, flows=flows).per_pair
    shot = np.array([pair.visible_share >= MIN_VISIBLE_SHARE for pair in flows])
    return tuple(
        float((errors[k].mean() + RATIO_EPSILON) / (input_errors[k].mean() + RATIO_EPSILON))
        for k in (slice(None), shot)
    )


def measure_clip(exported, frames: list[np.ndarray], weight: float) -> dict:
    from vaest.latent import Shift
    from vaest.stylize.geometry import Geometry

    size = frames[0].shape[:2]
    geometry = Geometry(size, exported.image_size, size, exported.manifest.fit)
    fitted = np.stack([geometry.fit(f) for f in frames])
    source = exported.encode(fitted)[0].mean(axis=0)  # --source auto
    target = exported.domain(exported.painting_domains()[0]).centroid
    shift = Shift.toward(source, target, 1.0)
    model_flows, output_flows = flow.input_flows(fitted), flow.input_flows(frames)
    model_input = flow.warping_error(fitted, flows=model_flows).per_pair
    output_input = flow.warping_error(frames, flows=output_flows).per_pair

    variants = {
        "none": (None, nullcontext(), "guided"),
        "flow": (FlowStabilizer(weight), nullcontext(), "guided"),
        "flow, no mismatch fade": (
            FlowStabilizer(weight), patched(stabilize, INPUT_MISMATCH_SCALE=0.0), "guided"
        ),
        "flow, trust 1": (
            FlowStabilizer(weight), patched(stabilize, flow=TrustEverything(flow)), "guided"
        ),
        "flow, no cut detection": (
            FlowStabilizer(weight),
            patched(stabilize, MIN_VISIBLE_SHARE=0.0, CUT_ERROR_FLOOR=np.inf), "guided",
        ),
        "flow, cuts by visibility": (
            FlowStabilizer(weight), patched(stabilize, CUT_ERROR_FLOOR=np.inf), "guided"
        ),
        "flow, repeats counted": (RepeatsCounted(weight), nullcontext(), "guided"),
        "resize": (None, nullcontext(), "resize"),
        "resize + flow": (FlowStabilizer(weight), nullcontext(), "resize"),
    }  # fmt: skip
    found = {"frames": len(frames), "model_size": list(exported.image_size), "size": list(size)}
    found["geometry"] = geometry.describe()
    cut_pairs = [pair.visible_share < stabilize.MIN_VISIBLE_SHARE for pair in model_flows]
    found["cut pairs"] = int(np.sum(cut_pairs))
    found["input error share in cut pairs"] = float(
        model_input[cut_pairs].sum() / model_input.sum()
    )
    found["trust at the model size"] = trust_diagnostics(fitted)
    for name, (stabilizer, context, upsample) in variants.items():
        started = time.perf_counter()
        with context:
            fitted_, styled = stylized_at_model_size(exported, frames, geometry, shift, stabilizer)
        outputs = composed(geometry, upsample, styled, fitted_, frames)
        found[name] = {
            "model size ratio": ratios(list(styled), model_flows, model_input),
            "output size ratio": ratios(outputs, output_flows, output_input),
            "cuts": len(stabilizer.cuts) if stabilizer else 0,
            "seconds": round(time.perf_counter() - started, 1),
        }
    # The blend on the composed frames, with the flow of the full-size frames.
    _, styled = stylized_at_model_size(exported, frames, geometry, shift)
    outputs = composed(geometry, "guided", styled, fitted, frames)
    late = FlowStabilizer(weight)
    blended = [late(frame, output) for frame, output in zip(frames, outputs, strict=True)]
    found["flow at the output size"] = {
        "model size ratio": None,
        "output size ratio": ratios(blended, output_flows, output_input),
        "cuts": len(late.cuts),
    }
    return found


def main(argv):
    work = begin(FLAGS.work_dir, "vaest-flow-blend-")
    if work is None:
        return
    from vaest.export.read import Exported
    from vaest.io.imaging import parse_size

    size = parse_size(FLAGS.image_size)
    train_video, _ = films(work, (180, 320), 300)
    run = work / "run"
    train_run(run, [f"film={train_video}"], size, FLAGS.vae_steps, FLAGS.refiner_steps,
              FLAGS.batch_size)  # fmt: skip
    if FLAGS.train_only:
        return
    exported = Exported.from_run(run)
    tree = clip_from_video(SHARED / "videos" / "tree.avi", FLAGS.frames)
    cuts = cut_clip(FLAGS.frames)
    clips = {
        "tree.avi 320x240": tree,
        "photo cuts 640x360": cuts,
        "cartoon tree 320x240": cartoon(tree),
        "cartoon cuts 640x360": cartoon(cuts),
    }
    report = {"cpu": cpu_summary(), "image_size": list(size), "weight": FLAGS.weight}
    for name, frames in clips.items():
        report[name] = measure_clip(exported, frames, FLAGS.weight)
        print_clip(name, report[name])
    (work / "flow_blend.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nfigures in {work / 'flow_blend.json'}")


def print_clip(name: str, figures: dict) -> None:
    trust = figures["trust at the model size"]
    print(f"\n{name}: {figures['geometry']}, {figures['frames']} frames")
    print("  at the model size, per pair: visible share {visible_share:.2f} (lowest "
          "{lowest_visible_share:.2f}), mismatch fade {mismatch_fade:.2f}, trust {trust:.2f}"
          .format(**trust))  # fmt: skip
    print(
        f"  {figures['cut pairs']} cut pairs hold "
        f"{figures['input error share in cut pairs']:.0%} of the input's error"
    )
    print("  ratio (all pairs / without cut pairs)")
    print(f"  {'variant':26s} {'model size':>12s} {'output size':>12s} {'cuts':>5s}")
    for variant, row in figures.items():
        if not isinstance(row, dict) or "output size ratio" not in row:
            continue
        model = row["model size ratio"]
        model = "-" if model is None else f"{model[0]:.2f}/{model[1]:.2f}"
        output = "{:.2f}/{:.2f}".format(*row["output size ratio"])
        print(f"  {variant:26s} {model:>12s} {output:>12s} {row['cuts']:5d}")


if __name__ == "__main__":
    app.run(main)
