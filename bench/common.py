"""What the quality benchmarks share: videos panned over the photographs of ../shared/data (never
committed), and one VAE trained for two refiners."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN_PHOTOS = ("chicago", "golden_gate")  # the film the models train on
UNSEEN_PHOTOS = ("hoovertowernight", "tubingen")  # a video they never see


def pan(photos: list[Path], path: Path, size, frames: int, seed: int) -> Path:
    from vaest.data.sample import pan_video
    from vaest.io.imaging import load_image

    images = [load_image(p) for p in photos]
    rngs = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    return pan_video(images, path, size, 25, frames, *rngs)


def fitted_frames(video: Path, size, every: int) -> np.ndarray:
    from vaest.io.imaging import fit_image
    from vaest.io.video import iter_frames

    kept = [fit_image(f, size) for i, f in enumerate(iter_frames(video)) if i % every == 0]
    return np.stack(kept).astype(np.float32) / 255.0


LEARNING_RATE = 5e-4


def define_training_flags(vae_steps: int, refiner_steps: int, image_size: str | None = None):
    """The flags of a benchmark that trains its own run: steps, batch size, model size (when it
    has one of its own) and the work folder."""
    from absl import flags

    flags.DEFINE_integer("vae_steps", vae_steps, "VAE training steps.")
    flags.DEFINE_integer("refiner_steps", refiner_steps, "Steps for each refiner.")
    flags.DEFINE_integer("batch_size", 16, "Training batch size.")
    if image_size is not None:
        flags.DEFINE_string("image_size", image_size, "Model size.")
    flags.DEFINE_string("work_dir", None, "Keep the runs here (default: a temporary folder).")


def begin(given: str | None, prefix: str) -> Path | None:
    """A benchmark's first steps: None, having said why, when the shared data is absent; else the
    CPU line printed (speed figures depend on it) and the work folder."""
    if not SHARED.exists():
        print(f"skipped: {SHARED} is absent")
        return None
    print(f"cpu: {cpu_summary()}")
    return work_folder(given, prefix)


def shared_photos() -> dict[str, Path]:
    """The shared photographs by name."""
    from vaest.io.imaging import find_images

    return {p.stem: p for p in find_images(SHARED / "photos")}


def films(work: Path, size, train_frames: int, unseen_frames: int | None = None):
    """(the training film, the unseen video or None): pans over the shared photographs, in work."""
    photos = shared_photos()
    train = pan([photos[n] for n in TRAIN_PHOTOS], work / "train.mp4", size, train_frames, 1)
    if unseen_frames is None:
        return train, None
    unseen = pan([photos[n] for n in UNSEEN_PHOTOS], work / "unseen.mp4", size, unseen_frames, 2)
    return train, unseen


def work_folder(given: str | None, prefix: str) -> Path:
    """Where a benchmark keeps its runs: the folder given (kept, resumable) or a new temporary
    one."""
    import tempfile

    work = Path(given or tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    return work


def train_vae_for_two(run: Path, twin: Path, steps: int, batch_size: int) -> None:
    """Train run's VAE (or resume it), then give twin a copy of run's data and VAE, so that two
    refiners can be compared on the same VAE."""
    from vaest.train.vae import train_vae

    train_vae(run, vae_settings(steps, batch_size))
    if not twin.exists():
        twin.mkdir()
        for part in ("data", "vae"):
            shutil.copytree(run / part, twin / part)


def vae_settings(steps: int, batch_size: int):
    from vaest.train.vae import VaeSettings

    return VaeSettings(
        steps=steps, batch_size=batch_size, learning_rate=LEARNING_RATE,
        save_every=steps, preview_every=steps,
    )  # fmt: skip


def refiner_settings(steps: int, batch_size: int):
    from vaest.train.refiner import RefinerSettings

    return RefinerSettings(
        steps=steps, batch_size=batch_size, learning_rate=LEARNING_RATE,
        save_every=steps, preview_every=steps,
    )  # fmt: skip


def painting_judge(data: Path, texture):
    """What style_figures judges by, from a judge's data set (RUN/data of the painting `art` and
    the film `film`): (the train tiles, the classifier of art against film, the held-out tiles'
    colour statistics, their texture statistics)."""
    from vaest.data.records import domain_images
    from vaest.measure import features, metrics
    from vaest.measure.deception import fit_painting_classifier

    tiles = domain_images(data, "train", "art")
    classifier = fit_painting_classifier(texture, tiles, domain_images(data, "train", "film"))
    held = domain_images(data, "val", "art")
    return (
        tiles,
        classifier,
        metrics.colour_statistics(held),
        features.texture_statistics(texture, held),
    )


def cpu_summary() -> str:
    """The CPU's model, core count and vector extensions: speed figures depend on them."""
    import os

    from vaest.device import cpu_flags, cpuinfo

    flags = cpu_flags()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
    present = [f for f in wanted if f in flags] or ["none of avx2/avx512/amx"]
    return f"{cpuinfo('model name') or 'unknown CPU'}, {os.cpu_count()} cores, {' '.join(present)}"


def train_run(run: Path, videos: list[str], size, vae_steps: int, refiner_steps: int, batch: int):
    """Extract the shared paintings and the given videos, train a VAE and a guided refiner and
    export, resuming whatever a kept work folder already holds."""
    from vaest.data.extract import extract
    from vaest.data.sources import Options, plan_domains
    from vaest.export.write import export
    from vaest.train.refiner import train_refiner
    from vaest.train.vae import train_vae

    if not (run / "data").exists():
        options = Options(image_size=size, frame_stride=2, tiles_per_painting=32)
        extract(plan_domains(videos, [f"paintings={SHARED / 'paintings'}"], options), options, run)
    train_vae(run, vae_settings(vae_steps, batch))
    train_refiner(run, refiner_settings(refiner_steps, batch))
    if not (run / "export").exists():
        export(run)


def make_export(run_dir: Path, size):
    """RUN/export of an untrained VAE and refiner at `size`, laid out as export_graphs.py makes
    it."""
    from vaest.data.records import Domain, Manifest
    from vaest.export.write import save_graphs
    from vaest.models.config import RefinerConfig, VaeConfig
    from vaest.models.refiner import build_refiner
    from vaest.models.vae import VAE

    config, refiner_config = VaeConfig(image_size=size), RefinerConfig(image_size=size)
    vae = VAE(config)
    vae(np.zeros((1, *config.image_size, 3), np.float32))
    refiner = build_refiner(refiner_config)
    folder = run_dir / "export"
    folder.mkdir(parents=True)
    save_graphs(folder / "saved_model", vae, refiner, refiner_config)
    rng = np.random.default_rng(0)
    np.savez(
        folder / "latents.npz",
        names=np.array(["clip", "art"]),
        kinds=np.array(["video", "painting"]),
        centroid=rng.normal(size=(2, config.latent_dim)).astype(np.float32),
        std=np.ones((2, config.latent_dim), np.float32),
        count=np.array([100, 100]),
    )
    info = {
        "has_refiner": True,
        "guide": refiner_config.guide,
        "image_size": list(config.image_size),
        "latent_dim": config.latent_dim,
        "fit": "crop",
    }
    (folder / "export.json").write_text(json.dumps(info))
    domains = [Domain(0, "clip", "video"), Domain(1, "art", "painting")]
    manifest = Manifest(config.image_size, domains, {}, {"fit": "crop"})
    (folder / "manifest.json").write_text(manifest.to_json())
    return vae, refiner
