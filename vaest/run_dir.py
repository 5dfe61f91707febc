"""The run directory RUN/: every folder and file name that the seven steps share, named once.

RUN/data/      manifest.json, *.tfrecord.gz shards, preview/   (extract_tiles, preview_tiles)
               paint/: frames and paintings at the paint resolution (the painter's crops)
RUN/vae/       checkpoints/, logs/, previews/, config.json     (train_vae)
RUN/refiner/   laid out like RUN/vae                           (train_refiner)
RUN/painter/   laid out like RUN/vae                           (train_refiner --painter)
RUN/export/    saved_model/, latents.npz, export.json, configs (export_graphs)
RUN/eval/      plots and metrics.json                          (evaluate_latents)
RUN/out/       stylized videos and images                      (mogrify_video)
"""

from __future__ import annotations

from pathlib import Path

DEFAULT = "runs/default"

# Inside RUN/data
MANIFEST = "manifest.json"
DATA_PREVIEW = "preview"
PAINT_DATA = "paint"  # RUN/data/paint: paint.json, frames/<video>/, paintings/<domain>/
PAINT_INFO = "paint.json"
PAINT_FRAMES = "frames"
PAINT_PAINTINGS = "paintings"
# Inside a trained model's folder (RUN/vae, RUN/refiner)
CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
PREVIEWS = "previews"
# Inside RUN/export
SAVED_MODEL = "saved_model"
LATENTS = "latents.npz"
EXPORT_INFO = "export.json"
REFINER_CONFIG = "refiner_config.json"
PAINTER_CONFIG = "painter_config.json"
# Inside RUN/eval
METRICS = "metrics.json"


class RunDir:
    """The folders of one run directory; nothing is created by naming them."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.data = self.root / "data"
        self.vae = self.root / "vae"
        self.refiner = self.root / "refiner"
        self.painter = self.root / "painter"
        self.export = self.root / "export"
        self.eval = self.root / "eval"
        self.out = self.root / "out"

    def stages(self) -> list[Path]:
        """Every folder the steps write, in pipeline order."""
        return [self.data, self.vae, self.refiner, self.painter, self.export, self.eval, self.out]


def checkpoints(model_folder: str | Path) -> Path:
    """RUN/vae/checkpoints, RUN/refiner/checkpoints or RUN/painter/checkpoints."""
    return Path(model_folder) / CHECKPOINTS
