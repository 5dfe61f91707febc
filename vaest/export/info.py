"""export.json checked on reading: every field mogrify and evaluation use, by type and against the
graphs it describes, so that a damaged or edited file is one line naming the field instead of a
TensorFlow or type error deep inside a run (vaest.export.read)."""

from __future__ import annotations

from pathlib import Path

from vaest.errors import UserError
from vaest.models.config import PAINTER_GUIDES, REFINER_GUIDES

STEPS = ("vae_step", "refiner_step", "painter_step")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _problem(info) -> str | None:
    """What is wrong with export.json's fields, in words naming the field; None when sound."""
    if not isinstance(info, dict):
        return f"it holds a {type(info).__name__}, not an object of fields"
    size = info.get("image_size")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(s) and s > 0 for s in size)):
        return f"image_size must be two positive whole numbers (height, width), not {size!r}"
    latent = info.get("latent_dim")
    if not (_whole(latent) and latent > 0):
        return f"latent_dim must be a positive whole number, not {latent!r}"
    # An older export's `adversarial` (its refiner trained against the retired patch
    # discriminator) is not read: such a refiner serves as any other.
    for key, default in (("has_refiner", None), ("has_painter", False)):
        if not isinstance(info.get(key, default), bool):
            return f"{key} must be true or false, not {info.get(key)!r}"
    if info.get("guide", "none") not in REFINER_GUIDES:
        return f"guide must be one of {', '.join(REFINER_GUIDES)}, not {info.get('guide')!r}"
    for key in STEPS:
        if not (info.get(key) is None or (_whole(info[key]) and info[key] >= 0)):
            return f"{key} must be a whole number of steps or null, not {info[key]!r}"
    domains = info.get("painter_domains", [])
    if not (isinstance(domains, list) and all(isinstance(d, str) and d for d in domains)):
        return f"painter_domains must be a list of domain names, not {domains!r}"
    if len(set(domains)) < len(domains):
        return f"painter_domains names a domain twice: {domains!r}"
    if info.get("has_painter", False) and not domains:
        return "painter_domains is empty, but has_painter is true"
    if info.get("painter_guide") not in (None, *PAINTER_GUIDES):
        guides = ", ".join(PAINTER_GUIDES)
        return f"painter_guide must be one of {guides} or null, not {info['painter_guide']!r}"
    return None


def _input_shape(model, signature: str, name: str) -> list | None:
    """The static shape of one input of one of the SavedModel's signatures, if it has it."""
    if signature not in model.signatures:
        return None
    spec = model.signatures[signature].structured_input_signature[1].get(name)
    return None if spec is None else spec.shape.as_list()


def _mismatch(info: dict, model, painting_domains: list[str]) -> str | None:
    """What export.json says that the graphs (or latents.npz) contradict; None when they agree."""
    images = _input_shape(model, "encode", "images")
    if images is not None and images[1:3] != info["image_size"]:
        return f"image_size {info['image_size']} is not the encode graph's {images[1]}x{images[2]}"
    latents = _input_shape(model, "decode", "latents")
    if latents is not None and latents[-1] != info["latent_dim"]:
        return f"latent_dim {info['latent_dim']} is not the decode graph's {latents[-1]}"
    if info.get("has_painter", False):
        weights = _input_shape(model, "paint", "weights")
        if weights is None:
            return "has_painter is true, but the export holds no paint graph"
        domains = info.get("painter_domains", [])
        if weights[-1] != len(domains):
            return (
                f"painter_domains names {len(domains)} domain(s), but the paint graph takes "
                f"{weights[-1]} weight(s)"
            )
        unknown = [d for d in domains if d not in painting_domains]
        if unknown:
            return f"painter_domains names {unknown[0]!r}, not a painting domain of the export"
    return None


def check_info(path: str | Path, info, rerun: str) -> None:
    """Refuse an export.json whose fields are of the wrong type or contradict its graphs, in one
    line naming the field."""
    problem = _problem(info)
    if problem:
        raise UserError(f"{path}: {problem}: {rerun}")


def check_against_graphs(path: str | Path, info: dict, model, painting_domains, rerun: str):
    """After loading: the sizes and the painter's domains export.json gives are the graphs'."""
    problem = _mismatch(info, model, list(painting_domains))
    if problem:
        raise UserError(f"{path}: {problem}: {rerun}")
