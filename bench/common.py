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
