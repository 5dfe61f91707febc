"""What a user chooses for step 7, checked before any work; named after mogrify_video.py flags.

Also what an output records of them, so that it can be remade: the settings, the shift's
resolved weights and the export's training steps, as JSON in the MP4's comment tag. Read it back
with `ffprobe -show_entries format_tags=comment OUT.mp4`, or with vaest.io.video_out.read_comment.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace

from vaest.device import check_device, check_precision
from vaest.errors import UserError
from vaest.stylize.geometry import parse_output_size, width_by_height
from vaest.stylize.methods import AUTO, METHODS
from vaest.stylize.optimize.choices import (
    DEFAULT_ITERATIONS,
    DEFAULT_OPTIMIZE_SIZE,
    DEFAULT_OPTIMIZER,
    DEFAULT_TEXTURE,
    OPTIMIZERS,
    SMALLEST_SIDE,
    TEXTURES,
    OptimizeChoices,
)
from vaest.stylize.style_video import check_style_video
from vaest.stylize.targets import check_transition, parse_target
from vaest.upsample import UPSAMPLINGS

SOURCE_AUTO, SOURCE_NONE = "auto", "none"
DEFAULT_STRENGTH = 1.0
TEMPORAL_KINDS = ("flow", "latent")  # --temporal: any of these, comma-separated, or none
LATENT_SMOOTHING = 0.5  # the latent moving average of --temporal latent without --smoothing
BATCH_SIZE = 8  # frames per model call on a CPU

MAX_SECONDS = 1e8  # --start and --duration: about three years, far within ffmpeg's range


@dataclass
class Settings:
    """Everything a user chooses; the names follow mogrify_video.py's flags."""

    target: str | None = None  # painting domain, mix or timeline (targets); None: the only one
    source: str = SOURCE_AUTO  # auto, a domain name, or none
    strength: float | None = None  # a = b = strength; 1.0 when no weight is given
    source_weight: float | None = None
    target_weight: float | None = None
    smoothing: float = 0.0  # latent EMA factor s in [0, 1); 0 = off unless --temporal latent
    temporal: str = "flow"  # videos: flow (vaest.stylize.stabilize), latent, both, or none
    flow_blend: float = 0.7  # w of the flow stabiliser's blend, in [0, 1)
    measure_temporal: bool = False  # report the flow-warped error of the output (a flow pass)
    pixel_smoothing: bool = False
    refine: bool = True
    method: str = AUTO  # auto or one of vaest.stylize.methods.METHODS; the plan resolves auto
    detail: float = 1.0  # share of the frame's structure kept
    output_size: str = "source"  # source, model or WIDTHxHEIGHT
    inset: bool = False
    start: float = 0.0
    duration: float | None = None
    max_frames: int | None = None
    batch_size: int | None = None  # frames per model call; None: BATCH_SIZE, GPU_BATCH on a GPU
    crf: int = 18
    audio: bool = True
    # Beyond one style: timelines, sharp large output, kept colours, comparisons.
    transition: float = 1.0  # seconds between the targets of a --target timeline
    upsample: str = "guided"  # guided (vaest.upsample) or resize
    keep_colours: bool = False
    side_by_side: bool = False
    target_video: str | None = None  # a style video (or image): frame t's target at time t
    # --method optimize (vaest.stylize.optimize.method)
    iterations: int = DEFAULT_ITERATIONS  # per frame
    optimizer: str = DEFAULT_OPTIMIZER  # lbfgs or adam
    texture_loss: str = DEFAULT_TEXTURE  # sliced (Wasserstein) or gram
    optimize_size: str = DEFAULT_OPTIMIZE_SIZE  # WIDTHxHEIGHT: the working size's cap
    device: str = "auto"  # auto, cpu or gpu (vaest.device)
    precision: str = "auto"  # auto, float32 or bfloat16 (vaest.device.resolve_precision)

    def check(self) -> None:
        check_device(self.device)
        check_precision(self.precision)
        parse_target(self.target)
        check_transition(self.transition)
        if self.upsample not in UPSAMPLINGS:
            raise UserError(f"--upsample must be one of {', '.join(UPSAMPLINGS)}")
        for name in ("strength", "source_weight", "target_weight", "detail", "smoothing"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise UserError(f"--{name} must be a finite number, not {value}")
        if not 0.0 <= self.flow_blend < 1.0:  # also refuses nan
            raise UserError(f"--flow_blend must be in [0, 1), not {self.flow_blend}")
        if not 0.0 <= self.smoothing < 1.0:
            raise UserError(f"--smoothing must be in [0, 1), not {self.smoothing}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, not {self.batch_size}")
        if not 0 <= self.start <= MAX_SECONDS:  # also refuses nan
            raise UserError(f"--start must be 0 to {MAX_SECONDS:g} seconds, not {self.start}")
        if self.duration is not None and not 0 < self.duration <= MAX_SECONDS:
            raise UserError(f"--duration must be above 0 and at most {MAX_SECONDS:g} seconds, "
                            f"not {self.duration}")  # fmt: skip
        if self.max_frames is not None and self.max_frames < 1:
            raise UserError(f"--max_frames must be at least 1, not {self.max_frames}")
        if self.method not in (AUTO, *METHODS):
            raise UserError(
                f"--method must be {AUTO} or one of {', '.join(METHODS)}, not {self.method!r}"
            )
        if self.method == "paint" and not self.refine:
            raise UserError(
                "--method paint paints residual's picture, made with the refiner: it cannot go "
                "with --no_refine"
            )
        if not 0.0 <= self.detail <= 1.0:
            raise UserError(f"--detail must be in [0, 1], not {self.detail}")
        if not 0 <= self.crf <= 51:
            raise UserError(f"--crf must be in 0..51, not {self.crf}")
        parse_output_size(self.output_size, (2, 2), (2, 2))  # the syntax, before any work
        self.optimize_choices()
        check_style_video(self.target_video)
        self.resolved()

    def optimize_choices(self) -> OptimizeChoices:
        """--method optimize's flags, checked: --optimize_size as the cap (height, width)."""
        n = self.iterations
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UserError(f"--iterations must be a whole number of at least 1, not {n!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"
            )
        if self.texture_loss not in TEXTURES:
            raise UserError(
                f"--texture_loss must be one of {', '.join(TEXTURES)}, not {self.texture_loss!r}"
            )
        cap = width_by_height(self.optimize_size, "--optimize_size", SMALLEST_SIDE)
        return OptimizeChoices(n, self.optimizer, self.texture_loss, cap)

    def temporal_kinds(self) -> set[str]:
        """The stabilisations asked for by --temporal: a subset of TEMPORAL_KINDS."""
        asked = {part.strip() for part in self.temporal.split(",") if part.strip()}
        if asked == {"none"}:
            return set()
        unknown = asked - set(TEMPORAL_KINDS)
        if unknown or not asked:
            raise UserError(
                f"--temporal must be flow, latent, flow,latent or none, not {self.temporal!r}"
            )
        return asked

    def resolved(self) -> tuple[tuple[float, float], frozenset[str], float]:
        """What the weight and temporal flags mean: ((a, b), the stabilisations, s of the latent
        moving average, which --temporal latent turns on at LATENT_SMOOTHING)."""
        kinds = frozenset(self.temporal_kinds())
        smoothing = self.smoothing or (LATENT_SMOOTHING if "latent" in kinds else 0.0)
        return self.weights(), kinds, smoothing

    def weights(self) -> tuple[float, float]:
        """(a, b) of z' = mu - a * c_source + b * c_target.

        --strength alone (or nothing) gives a = b = strength (default 1.0). Either weight flag
        selects the general form, where a weight not given is 0. Mixing the two is an error.
        """
        general = self.source_weight is not None or self.target_weight is not None
        if general and self.strength is not None:
            raise UserError("give either --strength or --source_weight/--target_weight, not both")
        if general:
            return float(self.source_weight or 0.0), float(self.target_weight or 0.0)
        strength = DEFAULT_STRENGTH if self.strength is None else float(self.strength)
        return strength, strength


EXPORT_FACTS = ("vae_step", "refiner_step", "painter_step", "image_size", "guide")


def settings_record(plan, exported) -> str:
    """One line of JSON: {"vaest": {"settings": ..., "shift": ..., "export": ...}} for a
    vaest.stylize.plan.Plan, with the batch size it resolved."""
    facts = {key: exported.info[key] for key in EXPORT_FACTS if key in exported.info}
    record = {
        "settings": asdict(replace(plan.settings, batch_size=plan.batch_size)),
        "shift": {"source_weight": plan.source_weight, "target_weight": plan.target_weight},
        "method_reason": plan.method_reason,
        # The run's name and the export's content, not its path: the user's folders stay private.
        "export": {"run": exported.folder.parent.name, "sha256": exported.digest(), **facts},
    }
    return json.dumps({"vaest": record}, separators=(",", ":"))


def parse_record(comment: str | None) -> dict | None:
    """The record in a comment tag, or None when the tag holds something else."""
    try:
        found = json.loads(comment or "")
    except json.JSONDecodeError:
        return None
    return found.get("vaest") if isinstance(found, dict) else None
