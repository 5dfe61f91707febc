"""Step 5: the exported SavedModel, latents.npz and export.json, on the shared tiny run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from vaest.data.records import SPLITS, load_manifest, read_records
from vaest.errors import ConfigMismatch
from vaest.export import write as export_module
from vaest.export.read import Exported

ROOT = Path(__file__).resolve().parents[1]


def copy_run(tiny_run: Path, to: Path, parts=("data", "vae", "refiner", "export")) -> Path:
    """A copy of the parts of the shared run that a test may change."""
    to.mkdir()
    for part in parts:
        shutil.copytree(tiny_run / part, to / part)
    return to


def held_out_images(run_dir: Path, count: int) -> np.ndarray:
    records = read_records(run_dir / "data", "val").take(count).as_numpy_iterator()
    return np.stack([r["image"] for r in records])


def test_signatures_load_and_run_without_vaest(tiny_run):
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import tensorflow as tf

        model = tf.saved_model.load(sys.argv[1])
        sig = model.signatures
        found = {"signatures": sorted(sig), "image_size": model.image_size.numpy().tolist(),
                 "latent_dim": int(model.latent_dim.numpy())}
        h, w = found["image_size"]
        d = found["latent_dim"]
        rng = np.random.default_rng(0)
        for n in (1, 3):
            pixels = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
            images = tf.constant(pixels.astype(np.float32) / 255.0)
            enc = sig["encode"](images=images)
            dec = sig["decode"](latents=enc["mean"])
            ref = sig["refine"](images=dec["images"])
            sty = sig["stylize"](images=images, source=tf.zeros([d]), target=tf.ones([d]),
                                 source_weight=tf.constant(0.25), target_weight=tf.constant(0.5))
            # The tf.function itself also takes uint8 images, as decoded from a file.
            raw = model.encode(tf.constant(pixels))
            found[n] = {
                "mean": enc["mean"].shape.as_list(),
                "log_variance": enc["log_variance"].shape.as_list(),
                "decoded": dec["images"].shape.as_list(),
                "refined": ref["images"].shape.as_list(),
                "stylized": sty["images"].shape.as_list(),
                "uint8_gap": float(np.abs(raw["mean"].numpy() - enc["mean"].numpy()).max()),
            }
        found["vaest_imported"] = any(name.split(".")[0] == "vaest" for name in sys.modules)
        print(json.dumps(found))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tiny_run / "export" / "saved_model")],
        capture_output=True, text=True, timeout=300, cwd="/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["vaest_imported"] is False
    # each with its bfloat16 twin (vaest.export.precision)
    names = ["decode", "encode", "refine", "stylize"]
    assert found["signatures"] == sorted(names + [f"{n}_bf16" for n in names])
    assert found["image_size"] == [36, 64] and found["latent_dim"] == 16
    for n in ("1", "3"):
        shapes = found[n]
        assert shapes["mean"] == shapes["log_variance"] == [int(n), 16]
        assert shapes["decoded"] == shapes["refined"] == shapes["stylized"] == [int(n), 36, 64, 3]
        assert shapes["uint8_gap"] < 1e-5


def test_saved_model_matches_the_keras_models(tiny_run):
    import tensorflow as tf

    from vaest.train.checkpoints import load_trained_refiner, load_trained_vae

    images = held_out_images(tiny_run, 6).astype(np.float32) / 255.0
    exported = Exported.from_run(tiny_run)
    vae, _ = load_trained_vae(tiny_run)
    refiner, _, _ = load_trained_refiner(tiny_run)

    mean, log_variance = exported.encode(images)
    keras_mean, keras_log_variance = (t.numpy() for t in vae.encoder(tf.constant(images)))
    np.testing.assert_allclose(mean, keras_mean, atol=1e-4)
    np.testing.assert_allclose(log_variance, keras_log_variance, atol=1e-4)
    decoded = exported.decode(mean)
    np.testing.assert_allclose(decoded, vae.decoder(tf.constant(mean)).numpy(), atol=1e-4)
    refined = exported.refine(decoded)
    np.testing.assert_allclose(refined, refiner(tf.constant(decoded)).numpy(), atol=1e-4)
    assert np.abs(refined - decoded).max() > 1e-3  # the refiner is not skipped


def test_latent_statistics_cover_every_record(tiny_run):
    exported = Exported.from_run(tiny_run)
    manifest = load_manifest(tiny_run / "data")
    means, counts = defaultdict(list), defaultdict(int)
    for split in SPLITS:
        for batch in read_records(tiny_run / "data", split).batch(16).as_numpy_iterator():
            mu, _ = exported.encode(batch["image"])
            for row, domain in zip(mu, batch["domain_id"], strict=True):
                means[int(domain)].append(row)
                counts[int(domain), split] += 1

    with np.load(tiny_run / "export" / "latents.npz") as latents:
        assert list(latents["names"]) == [d.name for d in manifest.domains]
        assert list(latents["kinds"]) == [d.kind for d in manifest.domains]
        assert list(latents["ids"]) == [d.id for d in manifest.domains]
        for i, domain in enumerate(manifest.domains):
            mu = np.stack(means[domain.id]).astype(np.float64)
            np.testing.assert_allclose(latents["centroid"][i], mu.mean(axis=0), atol=1e-5)
            np.testing.assert_allclose(latents["std"][i], mu.std(axis=0), atol=1e-4)
            assert latents["count_train"][i] == domain.counts["train"] == counts[domain.id, "train"]
            assert latents["count_val"][i] == domain.counts["val"] == counts[domain.id, "val"]
            assert latents["count"][i] == len(mu)
    # The two domains of the tiny run are told apart in latent space.
    assert np.linalg.norm(exported.domain("art").centroid - exported.domain("clip").centroid) > 0.1


def test_stylize_is_shift_decode_refine(tiny_run):
    import tensorflow as tf

    exported = Exported.from_run(tiny_run)
    sig = exported.model.signatures
    images = tf.constant(held_out_images(tiny_run, 3).astype(np.float32) / 255.0)
    source, target = exported.domain("clip").centroid, exported.domain("art").centroid
    a, b = 0.3, 0.8

    mean = sig["encode"](images=images)["mean"].numpy()
    decoded = sig["decode"](latents=tf.constant(mean - a * source + b * target))["images"]
    piecewise = sig["refine"](images=decoded)["images"].numpy()
    combined = exported.stylize(images.numpy(), source, target, a, b)
    np.testing.assert_allclose(combined, piecewise, atol=1e-5)
    # The weights matter: a different setting gives a different picture.
    other = exported.stylize(images.numpy(), source, target, 0.0, 0.0)
    assert np.abs(other - combined).mean() > 1e-3

    info = json.loads((tiny_run / "export" / "export.json").read_text())
    assert info["has_refiner"] is True and info["guide"] == "none"
    assert info["vae_step"] == 40 and info["refiner_step"] == 30
    assert info["image_size"] == [36, 64] and info["latent_dim"] == 16
    names = ["decode", "encode", "refine", "stylize"]
    assert info["signatures"] == sorted(names + [f"{n}_bf16" for n in names])
    for name in ("config.json", "refiner_config.json", "manifest.json"):
        assert (tiny_run / "export" / name).is_file()


def test_export_without_refiner_skips_refinement(tiny_run, tmp_path):
    import tensorflow as tf

    run = copy_run(tiny_run, tmp_path / "run")
    shutil.rmtree(run / "refiner")
    export_module.export(run)  # replaces the copied export

    info = json.loads((run / "export" / "export.json").read_text())
    assert info["has_refiner"] is False and info["refiner_step"] is None
    assert "refine" not in info["signatures"] and "refine_bf16" not in info["signatures"]
    assert not (run / "export" / "refiner_config.json").exists()
    exported = Exported.from_run(run)
    assert "refine" not in exported.model.signatures
    images = held_out_images(run, 2)
    source, target = exported.domain("clip").centroid, exported.domain("art").centroid
    mean, _ = exported.encode(images)
    decoded = exported.model.signatures["decode"](
        latents=tf.constant(mean - 0.25 * source + 0.5 * target)
    )["images"].numpy()  # fmt: skip
    np.testing.assert_allclose(
        exported.stylize(images, source, target, 0.25, 0.5), decoded, atol=1e-5
    )
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []


def test_export_without_a_vae_is_a_one_line_error(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run", parts=("data",))
    result = subprocess.run(
        [sys.executable, str(ROOT / "export_graphs.py"), f"--run_dir={run}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0]
    assert "train_vae.py" in errors[0]
    assert sorted(p.name for p in run.iterdir()) == ["data"]


def test_refiner_of_another_size_is_refused(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    before = (run / "export" / "latents.npz").read_bytes()
    config = json.loads((run / "refiner" / "config.json").read_text())
    config["image_size"] = [72, 128]
    (run / "refiner" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigMismatch) as err:
        export_module.export(run)
    message = str(err.value)
    assert "\n" not in message and "(72, 128)" in message and "(36, 64)" in message
    assert (run / "export" / "latents.npz").read_bytes() == before


def test_failed_export_keeps_the_previous_one(tiny_run, tmp_path, monkeypatch):
    run = copy_run(tiny_run, tmp_path / "run")
    files = [p for p in sorted((run / "export").rglob("*")) if p.is_file()]
    before = {p: p.read_bytes() for p in files}

    def broken(*args, **kwargs):
        raise RuntimeError("stopped midway")

    monkeypatch.setattr(export_module, "domain_latent_statistics", broken)
    with pytest.raises(RuntimeError, match="stopped midway"):
        export_module.export(run)
    assert [p for p in sorted((run / "export").rglob("*")) if p.is_file()] == files
    assert all(p.read_bytes() == content for p, content in before.items())
    assert sorted(p.name for p in run.iterdir()) == ["data", "export", "refiner", "vae"]
