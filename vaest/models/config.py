"""Everything a model's shape depends on; saved as config.json (vaest.train.checkpoints)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields

from vaest.errors import ConfigMismatch, UserError

# The activations the VAE and the refiner may take: a named set, so that an export's ops are
# known in advance (vaest.export.trust allows only the ops these exports hold).
ACTIVATIONS = ("elu", "relu", "leaky_relu", "selu", "gelu", "silu")
REFINER_GUIDES = ("highpass", "none")  # RefinerConfig.guide
PAINTER_GUIDES = ("change", "decode")  # PainterConfig.guide


def _is(value, like) -> bool:
    """Whether a JSON value has the type of a default (an int does for a float)."""
    if isinstance(like, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(like, bool)
    if isinstance(like, float):
        return isinstance(value, int | float)
    return isinstance(value, type(like))


def _check_type(name: str, value, default) -> None:
    if isinstance(default, tuple):
        ok = isinstance(value, list | tuple) and all(_is(v, default[0]) for v in value)
        kind = f"a list of {type(default[0]).__name__}"
    else:
        ok, kind = _is(value, default), type(default).__name__
    if not ok:
        raise ConfigMismatch(f"config field {name} must be {kind}, not {value!r}")


def require_activation(config) -> None:
    if config.activation not in ACTIVATIONS:
        raise UserError(
            f"activation must be one of {', '.join(ACTIVATIONS)}, not {config.activation!r}"
        )


def require_finite(config, names, non_negative: bool = True) -> None:
    """A UserError naming the first of the config's fields `names` that is not a finite number
    (or, with non_negative, is below 0)."""
    for name in names:
        value = getattr(config, name)
        if not math.isfinite(value) or (non_negative and value < 0):
            bound = ", 0 or more" if non_negative else ""
            raise UserError(f"{name} must be a finite number{bound}, not {value}")


class _Saved:
    """Dict round trip and comparison shared by the configs."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict):
        known = {f.name: f for f in fields(cls)}
        unknown = set(raw) - set(known)
        if unknown:
            raise ConfigMismatch(f"unknown config fields: {', '.join(sorted(unknown))}")
        defaults = cls()
        for name, value in raw.items():
            _check_type(name, value, getattr(defaults, name))
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**values)

    def differences(self, other) -> list[str]:
        return [
            f"{f.name}: {getattr(other, f.name)} (saved) vs {getattr(self, f.name)} (asked)"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]

    def require_same(self, saved, where: str) -> None:
        diffs = self.differences(saved)
        if diffs:
            raise ConfigMismatch(
                f"{where} was trained with a different config ({'; '.join(diffs)}): "
                "use the saved settings or another --run_dir"
            )


@dataclass(frozen=True)
class VaeConfig(_Saved):
    """The VAE. Defaults follow the 2017 original, with 6 stride-2 layers as it describes."""

    image_size: tuple[int, int] = (180, 320)  # (height, width)
    filters: tuple[int, ...] = (64, 64, 128, 128, 192, 256)
    kernels: tuple[int, ...] = (7, 5, 5, 3, 3, 3)
    latent_dim: int = 512
    activation: str = "elu"
    normalization: str = "batch"  # "batch" or "none"
    upsampling: str = "resize"  # "resize" (nearest + conv, no checkerboard) or "transpose"
    beta: float = 1.0  # weight of the KL term
    # Kernel of the decoder's last, full-resolution conv to 3 channels; 0: kernels[0]. A 3x3
    # runs the decoder in about half the time of the original 7x7 for no loss of held-out PSNR
    # at equal steps (bench/last_kernel.py); a config.json without the field is from before it
    # and was trained with kernels[0].
    output_kernel: int = 3

    @classmethod
    def from_dict(cls, raw: dict):
        return super().from_dict({"output_kernel": 0, **raw})

    @property
    def last_kernel(self) -> int:
        return self.output_kernel or self.kernels[0]

    def __post_init__(self):
        if len(self.filters) != len(self.kernels):
            raise UserError("filters and kernels must have the same number of layers")
        if self.normalization not in ("batch", "none"):
            raise UserError(f"normalization must be batch or none, not {self.normalization!r}")
        if self.upsampling not in ("resize", "transpose"):
            raise UserError(f"upsampling must be resize or transpose, not {self.upsampling!r}")
        require_activation(self)
        if (
            len(self.image_size) != 2
            or min(self.image_size) < 2
            or any(s % 2 for s in self.image_size)
        ):
            raise UserError(f"image size must be two even sides, not {self.image_size}")
        if min(self.filters, default=0) < 1 or min(self.kernels, default=0) < 1:
            raise UserError("filters and kernels must be positive, one per layer")
        if self.output_kernel < 0:
            raise UserError(
                f"output_kernel must be positive (or 0: kernels[0]), not {self.output_kernel}"
            )
        if self.latent_dim < 1:
            raise UserError(f"latent_dim must be at least 1, not {self.latent_dim}")
        require_finite(self, ("beta",))

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        """Spatial size after each stride-2 layer ('same' padding rounds up)."""
        sizes, (h, w) = [], self.image_size
        for _ in self.filters:
            h, w = (h + 1) // 2, (w + 1) // 2
            sizes.append((h, w))
        return sizes


# The fields of the adversarial refiner, retired (the painter replaced it), with their defaults.
# A refiner config.json of an older version holds them; they shaped the training alone, so the
# refiner is read without them. One trained with adversarial_weight > 0 still serves as a
# refiner, but is not trained further (vaest.train.refiner).
RETIRED_REFINER_FIELDS = {
    "adversarial_weight": 0.0,
    "content_weight": 1.0,
    "sliced_wasserstein_weight": 0.0,
    "adversarial_spread": 0.25,
    "discriminator_filters": [32, 64, 128],
    "discriminator_scales": 2,
    "r1_gamma": 0.2,
}


def without_retired_defaults(raw: dict) -> dict:
    """A saved config's fields less the retired ones that hold their defaults: what an older
    plain refiner's config.json says, as this version writes it."""
    return {k: v for k, v in raw.items() if RETIRED_REFINER_FIELDS.get(k, ...) != v}


def adversarial_retired(raw: dict) -> str | None:
    """Why a refiner whose saved config.json shows the retired adversarial term cannot resume
    (vaest.train.checkpoints.require_current_loss): it still serves residual, refine and split,
    but plain training would silently change what it was trained for. None: it can."""
    weight = raw.get("adversarial_weight", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        return None
    return (
        "holds a refiner trained with the retired adversarial term "
        f"(adversarial_weight {weight}): it still serves residual, refine "
        "and split, but is not trained further; train a refiner into another --run_dir, and "
        "the painter (--painter), which replaced the adversarial refiner, for paint"
    )


@dataclass(frozen=True)
class RefinerConfig(_Saved):
    """The residual refiner. Defaults follow the original's layout and loss balance."""

    image_size: tuple[int, int] = (180, 320)
    skip_filters: int = 32
    down_filters: int = 32
    body_filters: tuple[int, ...] = (32, 64, 32)
    kernel: int = 5
    body_kernel: int = 3
    activation: str = "elu"
    # Structure guide fed beside the VAE output: "highpass", the frame's luminance detail finer
    # than guide_sigma pixels, which lets stylized frames keep their structure; or "none", the
    # original design, which sees the VAE output alone.
    guide: str = "highpass"
    guide_sigma: float = 3.0
    reconstruction_weight: float = 0.6
    # Bounded form of the original's 1e4/SSE "move away from the VAE output" term: a hinge that
    # is active only while the refined image is within `push_margin` (mean squared error per
    # value) of the VAE output.
    push_weight: float = 0.4
    push_margin: float = 0.001
    # Optional texture term (vaest.measure.feature_loss): the refined decode of a latent shifted by
    # style_strength * (c_target - c_video) toward the style_target painting domain ("": the
    # only one) is pulled toward the paintings' VGG Gram matrices. Weighted per value, like
    # the mean squared error; 0 turns it off.
    style_weight: float = 0.0
    style_strength: float = 1.0
    style_target: str = ""

    @classmethod
    def from_dict(cls, raw: dict):
        return super().from_dict({k: v for k, v in raw.items() if k not in RETIRED_REFINER_FIELDS})

    def __post_init__(self):
        if not self.body_filters or min(self.body_filters) < 1:
            raise UserError(f"body_filters must be positive numbers, not {self.body_filters}")
        if self.guide not in REFINER_GUIDES:
            raise UserError(f"guide must be none or highpass, not {self.guide!r}")
        require_activation(self)
        require_finite(
            self, ("reconstruction_weight", "push_weight", "push_margin", "style_weight")
        )
        require_finite(self, ("guide_sigma", "style_strength"), non_negative=False)


@dataclass(frozen=True)
class PainterConfig(_Saved):
    """The painter (vaest.models.painter): texture at the paint resolution, from the frame and
    the latent shift's colour guide. The layout is Johnson et al. 2016's, with one instance-norm
    scale and bias per painting domain (Dumoulin et al. 2017)."""

    domains: tuple[str, ...] = ("paintings",)  # painting domains, in the order of the weights
    # 9x9 stem, then two stride-2 3x3 convs. Half Johnson's widths: at --brush 2 that is 0.68
    # GMAC per 320x180 frame (bench/painter_size.py), and it painted strokes where the full
    # width, at 8x the cost per step, had not in the same minutes (doc/painter.md).
    filters: tuple[int, ...] = (16, 32, 64)
    residual_blocks: int = 5
    # Relative stroke size: the painter trains and paints at 1/brush of the paint data's and the
    # output's resolution, with the paintings scaled alike, so its strokes are brush times the
    # size (relative to the frame) that VGG's receptive fields reach at full resolution, and it
    # costs 1/brush^2. The output keeps the frame's edges through the guided upsampling.
    brush: float = 2.0
    # The colour guide beside the frame: "change", the frame plus the shift's change
    # decode(z') - decode(mu) upsampled along the frame's edges (as the residual method makes
    # it); or "decode", decode(z') upsampled.
    guide: str = "change"
    # True: the network paints a change over the guide (in tanh's argument), not the picture:
    # the guide's brightness survives the instance norms. Part of the painted recipe
    # (doc/painter.md), which is not the default: its strokes flickered 12 times more.
    over_guide: bool = False
    # Loss weights (vaest.train.painter), each per term, which are scale-free or per value;
    # chosen by runs of bench/paint.py toward candy (doc/painter.md).
    # The painted recipe (doc/painter.md): 500 over the guide at two scales, colour 100.
    texture_weight: float = 10.0
    # 2: the texture term also compares the output halved with the paintings halved, whose
    # relu3_3 reaches about 80 px of the paint resolution where the output's own reaches 40.
    texture_scales: int = 1
    content_weight: float = 1.0
    # The VGG16 layer the content term compares (0: relu1_2, 1: relu2_2, 2: relu3_3). The
    # texture term matches the paintings' relu3_3 statistics, which a relu3_3 content term
    # holds back toward the frame's.
    content_layer: int = 1
    # Colour is compared over cells this many px wide (at the paint resolution): the mean colour
    # of each cell follows the guide and strokes inside a cell are free. A 6-px blur at weight
    # 20 held every colour variation wider than about 12 px to the guide: no strokes.
    colour_cell: int = 16
    colour_weight: float = 20.0
    temporal_weight: float = 1000.0
    # Noise stability (Gupta et al. 2017): the output for the frame plus Gaussian noise of this
    # standard deviation (per value in [0, 1]) against the output for the frame, so that a
    # video's grain and coding noise do not make the strokes crawl. Weight 0: off.
    noise_weight: float = 300.0
    noise_sigma: float = 0.02
    # Training crops' side, drawn in this range at the paint data's size (scaled by 1/brush)
    crop_range: tuple[int, ...] = (128, 192)
    alpha_spread: float = 0.25  # the shift is drawn in 1 +- this during training

    @classmethod
    def from_dict(cls, raw: dict):
        # Painters saved before the brush and the colour cells painted at the paint data's own
        # size, with a 6-px colour blur; they have no such fields. Those saved before the two
        # texture scales and the guide under the output painted the whole picture.
        raw = {"brush": 1.0, "over_guide": False, "texture_scales": 1, **raw}
        raw.pop("colour_sigma", None)
        return super().from_dict(raw)

    def __post_init__(self):
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise UserError(f"the painter needs distinct painting domains, not {self.domains}")
        if len(self.filters) != 3 or min(self.filters) < 1 or self.residual_blocks < 0:
            raise UserError("the painter needs three positive filter counts and >= 0 blocks")
        if self.guide not in PAINTER_GUIDES:
            raise UserError(f"the painter's guide must be change or decode, not {self.guide!r}")
        require_finite(self, (
            "texture_weight", "content_weight", "colour_weight", "temporal_weight",
            "alpha_spread", "noise_weight", "noise_sigma",
        ))  # fmt: skip
        if not (math.isfinite(self.brush) and 1.0 <= self.brush <= 8.0):
            raise UserError(f"brush must be 1 to 8 (relative stroke size), not {self.brush}")
        if self.texture_scales not in (1, 2):
            raise UserError(f"texture_scales must be 1 or 2, not {self.texture_scales}")
        if self.colour_cell < 1:
            raise UserError(f"colour_cell must be 1 px or more, not {self.colour_cell}")
        if self.content_layer not in (0, 1, 2):
            raise UserError(f"content_layer must be 0, 1 or 2, not {self.content_layer}")
        if len(self.crop_range) != 2 or not 32 <= self.crop_range[0] <= self.crop_range[1]:
            raise UserError(f"crop_range must be two sides, 32 <= low <= high: {self.crop_range}")


def colour_blur_retired(raw: dict) -> str | None:
    """Why a painter saved with the retired colour blur (colour_sigma, which from_dict drops)
    cannot resume (vaest.train.checkpoints.require_current_loss), or None."""
    if "colour_sigma" not in raw:
        return None
    return (
        "was trained with the retired colour blur (colour_sigma): it still paints, but cannot "
        "resume under the colour cells; train a new painter into another --run_dir"
    )
