"""The demo sample: a short video and a painting domain, made offline from bundled photographs.

The video pans and zooms slowly over real photographs (the Ken Burns effect) and carries a
synthesized audio track. The paintings are made from *other* photographs by a fixed recipe:
flat colour regions, a shared warm-and-deep palette, oriented brush strokes with impasto
relief, dark outlines and canvas grain. Everything is derived from one seed, so a run is
reproducible to the byte.

    python -m vaest.data.sample --out runs/demo/sample
"""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from absl import flags, logging
from PIL import Image, ImageDraw
from skimage import color, data, feature, filters, morphology, segmentation
from tqdm import tqdm

from vaest.cli import run
from vaest.errors import UserError
from vaest.io.imaging import parse_size, resize, save_image
from vaest.io.video import iter_frames

# Photographs shipped inside scikit-image's wheel; the two sets share no photograph.
VIDEO_PHOTOS = ("astronaut", "coffee", "rocket")
PAINTING_PHOTOS = ("chelsea", "motorcycle", "camera", "coins", "brick", "immunohistochemistry")

# A bold palette in the manner of palette-knife city and park scenes: deep night blues and
# violets against lamp-lit reds, oranges and yellows. Every painting is drawn from it alone.
PALETTE = np.array(
    [
        (16, 20, 46),  # night
        (30, 50, 122),  # deep blue
        (38, 96, 186),  # cobalt
        (34, 150, 168),  # turquoise
        (28, 104, 70),  # deep green
        (94, 44, 130),  # violet
        (168, 28, 72),  # crimson
        (214, 46, 34),  # red
        (240, 122, 28),  # orange
        (250, 178, 40),  # amber
        (255, 226, 84),  # yellow
        (255, 244, 204),  # cream
    ],
    np.uint8,
)
# Palette indices from dark to light: the ramp that tones are mapped onto.
RAMP = (0, 1, 5, 6, 7, 8, 9, 10, 11)
# Cool touches scattered through the warm passages.
ACCENTS = (2, 3, 4, 5)
# Sample rate with a whole number of samples per frame at 24, 25, 30, 50 and 60 fps.
SAMPLE_RATE = 48000
MARKER = "sample.json"
FORMAT_VERSION = 1


def load_photo(name: str) -> np.ndarray:
    """A bundled photograph as uint8 RGB (grey ones repeated into three channels)."""
    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


# ---------------------------------------------------------------------------------------------
# The video


def _smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    return x * x * (3 - 2 * x)


def plan_shots(rng: np.random.Generator, photos: list[np.ndarray], aspect: float) -> list[dict]:
    """For each photo, a start and an end box (x0, y0, x1, y1) at the video's aspect ratio."""
    shots = []
    for photo in photos:
        src_h, src_w = photo.shape[:2]
        # The largest box of the video's aspect that fits the photo.
        full_w = min(src_w, src_h * aspect)
        boxes = []
        for scale in rng.permutation([rng.uniform(0.9, 1.0), rng.uniform(0.55, 0.7)]):
            box_w = full_w * scale
            box_h = box_w / aspect
            x0 = rng.uniform(0, src_w - box_w)
            y0 = rng.uniform(0, src_h - box_h)
            boxes.append(np.array([x0, y0, x0 + box_w, y0 + box_h]))
        shots.append({"photo": photo, "start": boxes[0], "end": boxes[1]})
    return shots


def render_shot(shot: dict, progress: float, size: tuple[int, int]) -> np.ndarray:
    """One frame of a shot, progress 0..1 along an eased path from its start to its end box."""
    height, width = size
    box = shot["start"] + (shot["end"] - shot["start"]) * _smoothstep(progress)
    image = Image.fromarray(shot["photo"])
    # A fractional box keeps the motion smooth; Pillow filters properly when shrinking.
    frame = image.resize((width, height), Image.Resampling.BICUBIC, box=tuple(box.tolist()))
    return np.asarray(frame, np.float32)


def video_frames(shots: list[dict], size: tuple[int, int], count: int, fade_frames: int):
    """Yield `count` uint8 frames: each shot gets an equal share, joined by crossfades."""
    share = count / len(shots)
    last = len(shots) - 1
    for index in range(count):
        t = index + 0.5
        frame = np.zeros((*size, 3), np.float32)
        for number, shot in enumerate(shots):
            # A shot runs from half a fade before its share to half a fade after it; the fades
            # in and out of neighbouring shots add up to one.
            start = number * share - fade_frames / 2
            end = (number + 1) * share + fade_frames / 2
            fade_in = (t - start) / fade_frames if number > 0 else 1.0
            fade_out = (end - t) / fade_frames if number < last else 1.0
            weight = min(1.0, fade_in, fade_out)
            if weight > 0:
                frame += weight * render_shot(shot, (t - start) / (end - start), size)
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def soundtrack(samples: int, shots: int, rng: np.random.Generator) -> np.ndarray:
    """A soft chord per shot with gentle fades, as 16-bit stereo samples [samples, 2]."""
    t = np.arange(samples) / SAMPLE_RATE
    share = samples / shots
    out = np.zeros(samples)
    for shot in range(shots):
        root = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        lo, hi = int(shot * share), int((shot + 1) * share)
        seg = t[lo:hi]
        chord = sum(
            np.sin(2 * np.pi * root * ratio * seg) / (k + 1)
            for k, ratio in enumerate((1.0, 1.25, 1.5))
        )
        ramp = np.minimum(1.0, np.minimum(seg - seg[0], seg[-1] - seg) / 0.2)
        out[lo:hi] = chord * ramp
    out *= 0.25
    stereo = np.stack([out, out], axis=-1)
    return np.round(stereo * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as file:
        file.setnchannels(samples.shape[1])
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(samples.tobytes())


def write_video(path: Path, frames, size: tuple[int, int], fps: int, audio_path: Path) -> None:
    """H.264 yuv420p with AAC audio; bit-exact flags keep the file reproducible."""
    height, width = size
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=2,
        ffmpeg_log_level="error",
        audio_path=str(audio_path),
        audio_codec="aac",
        output_params=[
            *("-crf", "18", "-preset", "medium", "-threads", "1"),
            *("-b:a", "128k", "-shortest"),
            *("-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"),
            *("-map_metadata", "-1", "-movflags", "+faststart"),
        ],
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


# ---------------------------------------------------------------------------------------------
# The paintings


def plan_paintings(rng: np.random.Generator, count: int) -> list[dict]:
    """Which photo, which crop, flip and turn each painting is made from."""
    plans = []
    for index in range(count):
        name = PAINTING_PHOTOS[index % len(PAINTING_PHOTOS)]
        plans.append(
            {
                "photo": name,
                # The first view of each photo is whole, later ones are closer details.
                "zoom": 1.0 if index < len(PAINTING_PHOTOS) else float(rng.uniform(0.4, 0.65)),
                "centre": rng.uniform(0.3, 0.7, size=2).tolist(),
                "flip": bool(rng.random() < 0.5),
                "turn": float(rng.uniform(-8, 8)),
            }
        )
    return plans


def crop_photo(photo: np.ndarray, plan: dict, size: tuple[int, int]) -> np.ndarray:
    """Cut the planned view out of a photo: a slight turn, a zoomed crop at the aspect, a flip."""
    image = Image.fromarray(photo).rotate(
        plan["turn"], resample=Image.Resampling.BICUBIC, expand=False
    )
    # Stay inside the part of the turned photo that has no empty corners.
    src_w, src_h = image.size
    margin = abs(np.sin(np.radians(plan["turn"]))) * max(src_w, src_h) / 2
    inner_w, inner_h = src_w - 2 * margin, src_h - 2 * margin
    aspect = size[1] / size[0]
    box_w = min(inner_w, inner_h * aspect) * plan["zoom"]
    box_h = box_w / aspect
    cx = margin + box_w / 2 + (inner_w - box_w) * plan["centre"][0]
    cy = margin + box_h / 2 + (inner_h - box_h) * plan["centre"][1]
    box = (cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2)
    view = image.resize((size[1], size[0]), Image.Resampling.LANCZOS, box=box)
    if plan["flip"]:
        view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(view)


def palette_indices(image: np.ndarray) -> np.ndarray:
    """Flat regions mapped onto the palette: per pixel, palette indices from nearest to farthest.

    Tone decides most of a colour (dark to light along RAMP), the photo's own hue the rest, so
    grey photographs and colour ones come out in the same palette.
    """
    pixels = image.astype(np.float64) / 255.0
    regions = segmentation.slic(
        pixels,
        n_segments=max(50, pixels.shape[0] * pixels.shape[1] // 180),
        compactness=12,
        start_label=0,
    )
    # Mean colour per region, worked on per region and spread back to the pixels at the end.
    sizes = np.bincount(regions.ravel())
    means = (
        np.stack([np.bincount(regions.ravel(), pixels[..., c].ravel()) for c in range(3)], axis=-1)
        / np.maximum(sizes, 1)[:, None]
    )
    lab = color.rgb2lab(means[None])[0]
    lo, hi = np.percentile(lab[regions.ravel(), 0], (2, 98))
    tone = np.clip((lab[:, 0] - lo) / max(hi - lo, 1e-6), 0, 1)
    ramp_lab = to_lab(PALETTE[list(RAMP)])
    stops = np.linspace(0, 1, len(RAMP))
    toned = np.stack([np.interp(tone, stops, ramp_lab[:, c]) for c in range(3)], axis=-1)
    # Keep a strengthened version of the photo's own colour where it has one.
    own = np.concatenate([toned[:, :1], lab[:, 1:] * 2.2], axis=-1)
    keep = np.clip(np.hypot(lab[:, 1], lab[:, 2]) / 40.0, 0, 0.6)[:, None]
    target = toned * (1 - keep) + own * keep
    distance = np.linalg.norm(target[:, None, :] - to_lab(PALETTE)[None], axis=-1)
    return np.argsort(distance, axis=-1)[regions]


def to_lab(colours: np.ndarray) -> np.ndarray:
    return color.rgb2lab(colours[None].astype(np.float64) / 255.0)[0]


def stroke_directions(gray: np.ndarray, sigma: float) -> np.ndarray:
    """Angle (radians) of the strokes at each pixel: along edges, following the image's flow."""
    arr, arc, acc = feature.structure_tensor(gray, sigma=sigma, mode="reflect", order="rc")
    # The dominant gradient's angle; strokes run perpendicular to it.
    gradient = 0.5 * np.arctan2(2 * arc, acc - arr)
    return gradient + np.pi / 2


def draw_strokes(
    canvas: Image.Image,
    relief: Image.Image,
    colours: np.ndarray,
    angles: np.ndarray,
    rng: np.random.Generator,
    spacing: float,
    length: tuple[float, float],
    width: tuple[float, float],
    mask: np.ndarray | None = None,
) -> None:
    """Lay short strokes, tapered at both ends, on a jittered grid in random order.

    Each stroke is also drawn into `relief` at a random height, for the impasto shading.
    """
    height, width_px = colours.shape[:2]
    ys, xs = np.mgrid[0:height:spacing, 0:width_px:spacing]
    ys = ys.ravel() + rng.uniform(0, spacing, ys.size)
    xs = xs.ravel() + rng.uniform(0, spacing, xs.size)
    rows = np.clip(ys.astype(int), 0, height - 1)
    cols = np.clip(xs.astype(int), 0, width_px - 1)
    angle = angles[rows, cols] + rng.normal(0, 0.15, ys.size)
    half_length = rng.uniform(*length, ys.size) / 2
    half_width = rng.uniform(*width, ys.size) / 2
    along = np.stack([np.cos(angle), np.sin(angle)], -1) * half_length[:, None]
    across = np.stack([-np.sin(angle), np.cos(angle)], -1) * half_width[:, None]
    # Eight corners: full width in the middle, narrower at both ends.
    shape = [(-1, -0.6), (-0.5, -1), (0.5, -1), (1, -0.6), (1, 0.6), (0.5, 1), (-0.5, 1), (-1, 0.6)]
    centres = np.stack([xs, ys], -1)
    corners = np.stack([centres + a * along + b * across for a, b in shape], axis=1)
    fills = colours[rows, cols]
    heights = rng.integers(60, 256, ys.size)
    keep = np.ones(ys.size, bool) if mask is None else mask[rows, cols]
    paint_draw = ImageDraw.Draw(canvas)
    relief_draw = ImageDraw.Draw(relief)
    for i in rng.permutation(np.flatnonzero(keep)):
        points = corners[i].ravel().tolist()
        paint_draw.polygon(points, fill=tuple(fills[i].tolist()))
        relief_draw.polygon(points, fill=int(heights[i]))


def canvas_grain(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A woven-canvas texture around 1.0, to multiply the painting by."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width]
    weave = np.sin(xs * 2.1) * np.sin(ys * 2.1 + 0.7)
    noise = filters.gaussian(rng.normal(0, 1, size), 0.7)
    return 1.0 + 0.025 * weave + 0.03 * noise


def paint(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn a photograph (already cut to size) into a painting in the shared palette."""
    height, width = photo.shape[:2]
    scale = np.sqrt(height * width / (480 * 640))  # brush sizes follow the canvas size
    ranked = palette_indices(photo)
    # Strokes mostly take the nearest colour, some the runner-up, a few a cool accent: the
    # broken, mosaic colour of knife painting.
    choice = rng.choice(3, size=(height, width), p=(0.75, 0.215, 0.035))
    index = np.take_along_axis(ranked, np.minimum(choice, 1)[..., None], -1)[..., 0]
    accent = (choice == 2) & (ranked[..., 0] >= 5)  # no accents in the darks
    index = np.where(accent, rng.choice(ACCENTS, size=(height, width)), index)
    colours = PALETTE[index]
    gray = color.rgb2gray(photo)
    angles = stroke_directions(gray, sigma=4 * scale + 1)

    canvas = Image.fromarray(PALETTE[ranked[..., 0]])
    relief = Image.new("L", (width, height), 128)
    detail = filters.gaussian(np.hypot(*np.gradient(gray)), 2) > 0.02
    # Broad strokes everywhere, then fine ones where the photo has detail: (spacing, length,
    # width) in pixels at scale 1.
    passes = (((7, (16, 30), (5, 9)), None), ((4, (7, 14), (2.5, 4.5)), detail))
    for (spacing, length, stroke_width), mask in passes:
        scaled = [(a * scale, b * scale) for a, b in (length, stroke_width)]
        draw_strokes(canvas, relief, colours, angles, rng, spacing * scale, *scaled, mask=mask)

    out = np.asarray(canvas, np.float64)
    # Dark outlines where the photo has strong edges, thickened a little.
    edges = feature.canny(gray, sigma=2.5 * scale + 0.5, low_threshold=0.08, high_threshold=0.2)
    edges = morphology.dilation(edges, morphology.disk(max(1, round(scale))))
    out[edges] = out[edges] * 0.25 + PALETTE[0] * 0.75
    # Impasto: light from the upper left catching the ridges between strokes.
    height_map = filters.gaussian(np.asarray(relief, np.float64) / 255.0, 1.0)
    gy, gx = np.gradient(height_map)
    shade = 1.0 - 2.0 * (gx + gy)
    out *= (shade * canvas_grain((height, width), rng))[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# The whole sample


def contact_sheet(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Rows of images on a dark ground; images in a row share a height."""
    width = max(sum(image.shape[1] for image in row) + gap * (len(row) + 1) for row in rows)
    height = sum(row[0].shape[0] for row in rows) + gap * (len(rows) + 1)
    sheet = np.full((height, width, 3), 24, np.uint8)
    top = gap
    for row in rows:
        left = gap
        for image in row:
            sheet[top : top + image.shape[0], left : left + image.shape[1]] = image
            left += image.shape[1] + gap
        top += row[0].shape[0] + gap
    return sheet


def sample_paths(out_dir: str | Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    return {
        "dir": out_dir,
        "video": out_dir / "content.mp4",
        "paintings": out_dir / "paintings",
        "preview": out_dir / "preview.png",
        "info": out_dir / MARKER,
    }


def _check_settings(
    width: int,
    height: int,
    fps: int,
    seconds: float,
    paintings: int,
    painting_size: tuple[int, int],
) -> int:
    """Raise UserError for settings that cannot make a sample; return the frame count."""
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise UserError(f"video size must be even and at least 16x16, not {width}x{height}")
    if fps < 1:
        raise UserError(f"fps must be at least 1, not {fps}")
    frames = round(fps * seconds)
    if seconds <= 0 or abs(frames - fps * seconds) > 1e-6:
        raise UserError(f"fps x seconds must be a whole number of frames, not {fps * seconds:g}")
    if frames < 2 * len(VIDEO_PHOTOS):
        raise UserError(f"the video needs at least {2 * len(VIDEO_PHOTOS)} frames, not {frames}")
    if paintings < 1:
        raise UserError(f"at least one painting is needed, not {paintings}")
    if min(painting_size) < 32:
        size = "x".join(str(v) for v in painting_size)
        raise UserError(f"paintings must be at least 32x32, not {size}")
    return frames


def make_sample(
    out_dir: str | Path,
    seed: int = 0,
    width: int = 320,
    height: int = 180,
    fps: int = 25,
    seconds: float = 12.0,
    paintings: int = 10,
    painting_size: tuple[int, int] = (480, 640),
    overwrite: bool = False,
) -> dict[str, Path]:
    """Make the demo sample in out_dir and return where its parts are.

    An existing sample made with the same settings is kept as it is (it would come out the same);
    one made with other settings is replaced only when `overwrite` is set. A folder that is not a
    sample is never touched. The sample is built in a temporary sibling folder and renamed into
    place when complete, so out_dir is never half-written.
    """
    frames = _check_settings(width, height, fps, seconds, paintings, painting_size)
    paths = sample_paths(out_dir)
    out_dir = paths["dir"]
    settings = {
        "format": FORMAT_VERSION,
        "seed": int(seed),
        "width": int(width),
        "height": int(height),
        "fps": int(fps),
        "frames": frames,
        "paintings": int(paintings),
        "painting_size": [int(v) for v in painting_size],
    }
    if out_dir.exists():
        existing = _existing_settings(out_dir)
        if existing == settings and not overwrite:
            logging.info("sample already made with these settings: %s", out_dir)
            return paths
        if existing is not None and existing != settings and not overwrite:
            raise UserError(
                f"{out_dir} holds a sample made with other settings; pass --overwrite to replace it"
            )

    # A fixed name for the unfinished folder, so a run that was killed is cleaned up by the next.
    work = out_dir.with_name(f".{out_dir.name}.partial")
    old = out_dir.with_name(f".{out_dir.name}.old")
    for leftover in (work, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    work.mkdir(parents=True)
    try:
        _build(sample_paths(work), settings)
        if out_dir.exists():
            out_dir.replace(old)
        work.replace(out_dir)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return paths


def _existing_settings(out_dir: Path) -> dict | None:
    """The settings a sample in out_dir was made with; None for an empty folder.

    Anything else there (a file, a folder of other things) is refused rather than replaced.
    """
    if not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a folder")
    marker = out_dir / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text())["settings"]
        except (ValueError, KeyError, TypeError):
            pass
    elif not any(out_dir.iterdir()):
        return None
    raise UserError(f"{out_dir} exists and is not a sample folder; choose another --out")


def pan_video(
    photos: list[np.ndarray],
    path: Path,
    size: tuple[int, int],
    fps: int,
    frames: int,
    video_rng: np.random.Generator,
    audio_rng: np.random.Generator,
) -> Path:
    """Slow pans and zooms over photos, crossfaded, with a chord per shot as its sound."""
    shots = plan_shots(video_rng, photos, size[1] / size[0])
    fade = int(min(round(0.6 * fps), frames / len(shots) / 2))
    wav = Path(path).with_name(f".{Path(path).stem}.soundtrack.wav")
    write_wav(wav, soundtrack(frames * SAMPLE_RATE // fps, len(shots), audio_rng))
    try:
        progress = tqdm(video_frames(shots, size, frames, fade), total=frames, desc="video frames")
        write_video(Path(path), progress, size, fps, wav)
    finally:
        wav.unlink(missing_ok=True)
    return Path(path)


def _build(paths: dict[str, Path], settings: dict) -> None:
    """Write video, paintings, preview and finally the marker into paths['dir']."""
    # Separate streams for video and paintings: changing one part's settings leaves the other.
    video_rng, audio_rng, paint_rng = (
        np.random.default_rng([settings["seed"], part]) for part in range(3)
    )
    size = (settings["height"], settings["width"])
    photos = [load_photo(n) for n in VIDEO_PHOTOS]
    pan_video(
        photos, paths["video"], size, settings["fps"], settings["frames"], video_rng, audio_rng
    )

    paths["paintings"].mkdir()
    painting_size = tuple(settings["painting_size"])
    plans = plan_paintings(paint_rng, settings["paintings"])
    photos = {name: load_photo(name) for name in PAINTING_PHOTOS}
    made = []
    for number, plan in enumerate(tqdm(plans, desc="paintings"), 1):
        painting = paint(crop_photo(photos[plan["photo"]], plan, painting_size), paint_rng)
        save_image(painting, paths["paintings"] / f"{number:02d}_{plan['photo']}.png")
        made.append(painting)

    save_image(_preview(paths["video"], settings["frames"], made), paths["preview"])
    info = {"settings": settings, "video_photos": VIDEO_PHOTOS, "paintings": plans}
    info["palette"] = PALETTE.tolist()
    paths["info"].write_text(json.dumps(info, indent=2) + "\n")


def _preview(video: Path, frames: int, paintings: list[np.ndarray]) -> np.ndarray:
    """A row of evenly spaced video frames above rows of painting thumbnails."""
    columns = 5
    wanted = set(np.linspace(0, frames - 1, 2 * columns).round().astype(int).tolist())
    stills = [frame for i, frame in enumerate(iter_frames(video)) if i in wanted]
    cell_w = 160
    rows = []
    for images in (stills, paintings):
        thumbs = [resize(im, round(cell_w * im.shape[0] / im.shape[1]), cell_w) for im in images]
        rows += [thumbs[i : i + columns] for i in range(0, len(thumbs), columns)]
    return contact_sheet(rows)


def main(argv) -> None:
    del argv
    try:
        painting_size = parse_size(FLAGS.painting_size)
    except ValueError as err:
        raise UserError(str(err)) from err
    paths = make_sample(
        FLAGS.out,
        seed=FLAGS.seed,
        width=FLAGS.width,
        height=FLAGS.height,
        fps=FLAGS.fps,
        seconds=FLAGS.seconds,
        paintings=FLAGS.paintings,
        painting_size=painting_size,
        overwrite=FLAGS.overwrite,
    )
    print(f"video:     {paths['video']}")
    print(f"paintings: {paths['paintings']}/")
    print(f"preview:   {paths['preview']}")


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("out", "runs/demo/sample", "Folder to make the sample in.")
    flags.DEFINE_integer("seed", 0, "Seed for every random choice; same seed, same sample.")
    flags.DEFINE_integer("width", 320, "Video width in pixels (even).")
    flags.DEFINE_integer("height", 180, "Video height in pixels (even).")
    flags.DEFINE_integer("fps", 25, "Video frame rate.")
    flags.DEFINE_float("seconds", 12.0, "Video length; fps x seconds must be whole frames.")
    flags.DEFINE_integer("paintings", 10, "How many paintings to make.")
    flags.DEFINE_string("painting_size", "480x640", "Painting size, HEIGHTxWIDTH.")
    flags.DEFINE_boolean("overwrite", False, "Replace a sample made with other settings.")


if __name__ == "__main__":
    define_flags()
    run(main)
