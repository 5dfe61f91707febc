"""Reading RUN/export: the SavedModel, the latent statistics and what the export recorded.

Used by mogrify and evaluation, which need nothing but this folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaest.data.records import Manifest, damage_reported, domain_images
from vaest.device import resolve_device, resolve_precision
from vaest.errors import MissingStep, UserError
from vaest.export.info import check_against_graphs, check_info
from vaest.export.trust import require_trusted
from vaest.io.imaging import as_float_images
from vaest.models.config import PainterConfig
from vaest.run_dir import EXPORT_INFO, LATENTS, MANIFEST, PAINTER_CONFIG, SAVED_MODEL, RunDir

BFLOAT16_SUFFIX = "_bf16"  # the bfloat16 twin of each signature (export.write)


@dataclass
class DomainLatents:
    name: str
    kind: str
    centroid: np.ndarray  # [latent_dim]
    std: np.ndarray  # [latent_dim]
    count: int


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def _read_latents(path: Path, rerun: str) -> dict[str, DomainLatents]:
    """latents.npz as DomainLatents; a cut file or a non-finite centroid is a one-line error, so
    that no frame is ever decoded from NaN."""
    try:
        with np.load(path) as raw:
            domains = {
                str(name): DomainLatents(str(name), str(kind), centroid, std, int(count))
                for name, kind, centroid, std, count in zip(
                    raw["names"], raw["kinds"], raw["centroid"], raw["std"], raw["count"],
                    strict=True,
                )
            }  # fmt: skip
    except Exception as err:  # zip, pickle and key errors all mean a damaged file
        raise UserError(
            f"{path}: damaged latent statistics ({_first_line(err)}): {rerun}"
        ) from None
    for domain in domains.values():
        if not (np.all(np.isfinite(domain.centroid)) and np.all(np.isfinite(domain.std))):
            raise UserError(f"{path}: the centroid of {domain.name!r} is not finite: {rerun}")
    return domains


class Exported:
    """A loaded RUN/export. Images go in as uint8 or float [0,1] arrays [N,H,W,3] at image_size."""

    def __init__(self, folder: str | Path, device: str | None = None, trust: bool = False):
        """device: a TensorFlow device name (vaest.device.resolve_device) for every model call;
        None leaves the placement to TensorFlow. trust: load graphs that hold foreign ops
        (vaest.export.trust), for an export whose maker is trusted."""
        folder = Path(folder)
        needed = [SAVED_MODEL, LATENTS, EXPORT_INFO, MANIFEST]
        missing = [name for name in needed if not (folder / name).exists()]
        if missing:
            raise MissingStep(
                f"no complete export in {folder} (missing {', '.join(missing)}): "
                f"run `python export_graphs.py --run_dir {folder.parent}` first"
            )
        import tensorflow as tf  # after the checks: a missing export is reported at once

        self.folder = folder
        # --trust_export: also what lets optimize read paintings the manifest names outside the
        # run (vaest.stylize.optimize.textures)
        self.trusted = bool(trust)
        self.manifest = Manifest.read(folder / MANIFEST)
        self._tf = tf
        self.device = device
        self.precision = "float32"  # or "bfloat16": the export's bf16 graphs (has_bfloat16)
        rerun = f"run `python export_graphs.py --run_dir {folder.parent}` again"
        try:
            self.info = json.loads((folder / EXPORT_INFO).read_text())
            check_info(folder / EXPORT_INFO, self.info, rerun)
            if not trust:  # before loading: loading may already run the export's code
                require_trusted(folder / SAVED_MODEL)
            self.model = tf.saved_model.load(str(folder / SAVED_MODEL))
        except UserError:
            raise
        except Exception as err:  # protobuf, OS and TensorFlow errors all mean a damaged file
            raise UserError(f"{folder}: damaged export ({_first_line(err)}): {rerun}") from None
        self.domains = _read_latents(folder / LATENTS, rerun)
        check_against_graphs(
            folder / EXPORT_INFO, self.info, self.model, self.painting_domains(), rerun
        )

    @classmethod
    def from_run(
        cls, run_dir: str | Path, device: str | None = None, trust: bool = False
    ) -> Exported:
        return cls(RunDir(run_dir).export, device, trust)

    def digest(self) -> str:
        """sha256 of every file of the export, by relative path: names this export, and no other,
        without its place on disk."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
            with path.open("rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()

    @property
    def has_bfloat16(self) -> bool:
        return "encode" + BFLOAT16_SUFFIX in self.model.signatures

    def _call(self, name: str, **inputs):
        """One signature of the SavedModel, in self.precision, on self.device (the painter has
        no bfloat16 twin: it runs in float32)."""
        if self.precision == "bfloat16" and name + BFLOAT16_SUFFIX in self.model.signatures:
            name += BFLOAT16_SUFFIX
        if self.device is None:
            return self.model.signatures[name](**inputs)
        with self._tf.device(self.device):
            return self.model.signatures[name](**inputs)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.info["image_size"])

    @property
    def latent_dim(self) -> int:
        return int(self.info["latent_dim"])

    @property
    def has_refiner(self) -> bool:
        return bool(self.info["has_refiner"])

    @property
    def guide(self) -> str:
        return self.info.get("guide", "none")

    @property
    def has_painter(self) -> bool:
        """Whether the export holds a painter (train_refiner.py --painter): --method paint."""
        return bool(self.info.get("has_painter", False))

    @property
    def painter_domains(self) -> list[str]:
        """The painting domains of the painter, in the order of its domain weights."""
        return list(self.info.get("painter_domains", []))

    @property
    def painter_figures(self) -> dict | None:
        """The painter's held-out figures beside residual's (vaest.measure.painter_gate), or
        None for an export made before they were measured."""
        figures = self.info.get("painter_figures")
        return figures if isinstance(figures, dict) else None

    @property
    def painter_config(self) -> PainterConfig:
        """The export's painter_config.json; the smallest painter when it cannot be read, so
        that a memory bound made with it stays a lower bound."""
        try:
            raw = json.loads((self.folder / PAINTER_CONFIG).read_text())
            return PainterConfig.from_dict(raw)
        except (OSError, ValueError, TypeError, AttributeError, UserError):
            return PainterConfig(filters=(1, 1, 1), residual_blocks=0)

    @property
    def painter_frame_size(self) -> tuple[int, int] | None:
        """(height, width) of the frames the painter trained on: step 7 paints no larger picture
        (vaest.upsample.paint_resolution); None for an export made before it was recorded."""
        size = self.info.get("painter_frame_size")
        return tuple(size) if size else None

    @property
    def painter_guide(self) -> str:
        """The colour guide the painter was trained with: change or decode."""
        return self.info.get("painter_guide") or "change"

    def paint(self, frames, guides, weights) -> np.ndarray:
        """The painter on frames and their colour guides, [N, H, W, 3] at any size, with domain
        weights [N, domains] in painter_domains' order; float32 [N, H, W, 3] in [0, 1]."""
        weights = self._tf.constant(np.asarray(weights, np.float32))
        out = self._call(
            "paint", frames=self._images(frames), guides=self._images(guides), weights=weights
        )
        return out["images"].numpy()

    def painting_domains(self) -> list[str]:
        return [d.name for d in self.domains.values() if d.kind == "painting"]

    def video_domains(self) -> list[str]:
        return [d.name for d in self.domains.values() if d.kind == "video"]

    def domain(self, name: str) -> DomainLatents:
        if name not in self.domains:
            raise UserError(f"no domain named {name!r}; the domains are: {', '.join(self.domains)}")
        return self.domains[name]

    def _images(self, images) -> object:
        return self._tf.constant(as_float_images(images), self._tf.float32)

    def encode(self, images) -> tuple[np.ndarray, np.ndarray]:
        """(mean, log_variance), each [N, latent_dim]."""
        out = self._call("encode", images=self._images(images))
        return out["mean"].numpy(), out["log_variance"].numpy()

    def decode(self, latents) -> np.ndarray:
        latents = self._tf.constant(np.asarray(latents, np.float32))
        return self._call("decode", latents=latents)["images"].numpy()

    @property
    def guided(self) -> bool:
        return self.has_refiner and self.guide != "none"

    def refine(self, images, frames=None, detail: float = 1.0) -> np.ndarray:
        """The refiner on decoded images. A guided refiner also takes the frames whose structure
        it keeps, `detail` of it (0 to 1); the VAE alone returns the images unchanged."""
        if not self.has_refiner:
            return np.asarray(images, np.float32)
        if not self.guided:
            return self._call("refine", images=self._images(images))["images"].numpy()
        return self._call(
            "refine",
            images=self._images(images),
            frames=self._images(frames),
            detail=self._tf.constant(float(detail)),
        )["images"].numpy()

    def stylize(
        self, images, source, target, source_weight: float, target_weight: float, detail=1.0
    ) -> np.ndarray:
        """decode(mean - source_weight * source + target_weight * target), refined."""
        tf = self._tf
        inputs = {
            "images": self._images(images),
            "source": tf.constant(np.asarray(source, np.float32)),
            "target": tf.constant(np.asarray(target, np.float32)),
            "source_weight": tf.constant(float(source_weight)),
            "target_weight": tf.constant(float(target_weight)),
        }
        if self.guided:
            inputs["detail"] = tf.constant(float(detail))
        return self._call("stylize", **inputs)["images"].numpy()


def load_export(
    run_dir: str | Path, device: str = "auto", precision: str = "auto", trust: bool = False
) -> Exported:
    """RUN/export on --device (auto, cpu or gpu) in --precision (auto, float32 or bfloat16);
    trust: --trust_export (vaest.export.trust)."""
    exported = Exported.from_run(run_dir, resolve_device(device), trust)
    exported.precision = resolve_precision(precision, exported.device, exported.has_bfloat16)
    return exported


def recorded_tiles(run: str | Path, name: str) -> np.ndarray | None:
    """The train tiles RUN/data recorded of a domain at the model size, or None when the run
    holds no records (an export copied on its own): the fallback of a painting gone from disk.
    A damaged shard is named in one line."""
    data = RunDir(run).data
    if not (data / MANIFEST).is_file():
        return None
    with damage_reported(data):
        return domain_images(data, "train", name)
