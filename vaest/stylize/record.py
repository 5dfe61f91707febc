"""What an output records about how it was made, so that it can be remade: the settings, the
shift's resolved weights and the export's training steps, as JSON in the MP4's comment tag.

Read it back with `ffprobe -show_entries format_tags=comment OUT.mp4`, or with
vaest.io.video.read_comment.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from vaest.stylize.settings import Settings

EXPORT_FACTS = ("vae_step", "refiner_step", "image_size", "guide")


def settings_record(settings: Settings, exported) -> str:
    """One line of JSON: {"vaest": {"settings": ..., "shift": ..., "export": ...}}."""
    a, b = settings.weights()
    facts = {key: exported.info[key] for key in EXPORT_FACTS if key in exported.info}
    record = {
        "settings": asdict(settings),
        "shift": {"source_weight": a, "target_weight": b},
        "export": {"folder": str(exported.folder), **facts},
    }
    return json.dumps({"vaest": record}, separators=(",", ":"))


def parse_record(comment: str | None) -> dict | None:
    """The record in a comment tag, or None when the tag holds something else."""
    try:
        found = json.loads(comment or "")
    except json.JSONDecodeError:
        return None
    return found.get("vaest") if isinstance(found, dict) else None
