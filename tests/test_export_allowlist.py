"""The export check is an allowlist (vaest.export.trust): derived here from the exports vaest
makes for every model option, and refusing hostile exports, built here in temporary folders."""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vaest.errors import UserError
from vaest.models.config import ACTIVATIONS

# One export per row covers every option: each activation (in the VAE or the refiner), batch
# norm folded or none, resize or transpose upsampling, odd layer sizes (cropped), the refiner with
# each guide and none, the painter over its guide, of the whole picture, or none. Every export
# has its bfloat16 twins.
OPTIONS = [
    ({"activation": "elu"}, {"activation": "relu", "guide": "highpass"}, {"over_guide": True}),
    (
        {"activation": "leaky_relu", "normalization": "none", "upsampling": "transpose"},
        {"activation": "selu", "guide": "none"},
        None,
    ),
    ({"activation": "gelu", "upsampling": "transpose"}, {"activation": "silu"}, {}),
    ({"activation": "silu", "normalization": "none", "output_kernel": 0}, None, None),
]
ROOT = Path(__file__).resolve().parents[1]
IMAGE_SIZE = (10, 14)  # odd sides after the first stride-2 layer: the decoder crops


def save_own_graphs(path: Path, vae_options: dict, refiner_options, painter_options) -> Path:
    """The SavedModel export_graphs.py writes, for tiny untrained networks with these options."""
    from vaest.export.write import save_graphs
    from vaest.models.config import PainterConfig, RefinerConfig, VaeConfig
    from vaest.models.painter import build_painter
    from vaest.models.refiner import build_refiner
    from vaest.models.vae import VAE

    tiny = {"filters": (4, 4), "kernels": (3, 3), "latent_dim": 4}
    vae = VAE(VaeConfig(image_size=IMAGE_SIZE, **tiny, **vae_options))
    refiner = refiner_config = None
    if refiner_options is not None:
        sizes = {"skip_filters": 4, "down_filters": 4, "body_filters": (4,), "kernel": 3}
        refiner_config = RefinerConfig(image_size=IMAGE_SIZE, **sizes, **refiner_options)
        refiner = build_refiner(refiner_config)
    painted = None
    if painter_options is not None:
        small = {"domains": ("a", "b"), "filters": (4, 4, 4), "residual_blocks": 1}
        config = PainterConfig(**small, **painter_options)
        painted = build_painter(config)
    save_graphs(path, vae, refiner, refiner_config, painted)
    return path


@pytest.fixture(scope="session")
def own_exports(tmp_path_factory) -> list[Path]:
    """vaest's SavedModels for every row of OPTIONS."""
    folder = tmp_path_factory.mktemp("own_exports")
    return [save_own_graphs(folder / str(i), *row) for i, row in enumerate(OPTIONS)]


def test_the_options_cover_every_choice_the_project_offers():
    activations = {o["activation"] for vae, refiner, _ in OPTIONS for o in (vae, refiner) if o}
    assert activations == set(ACTIVATIONS)
    assert {vae.get("normalization", "batch") for vae, _, _ in OPTIONS} == {"batch", "none"}
    assert {vae.get("upsampling", "resize") for vae, _, _ in OPTIONS} == {"resize", "transpose"}
    guides = {refiner.get("guide", "highpass") if refiner else None for _, refiner, _ in OPTIONS}
    assert guides == {"highpass", "none", None}
    painters = {p if p is None else p.get("over_guide", False) for _, _, p in OPTIONS}
    assert painters == {None, True, False}


@pytest.mark.parametrize("kind", ["VaeConfig", "RefinerConfig"])
def test_an_activation_outside_the_named_set_is_refused_in_one_line(kind):
    from vaest.models import config

    with pytest.raises(UserError, match=r"^activation must be one of elu, .*, not 'softmax'$"):
        getattr(config, kind)(activation="softmax")
    with pytest.raises(UserError, match="activation must be one of"):
        getattr(config, kind).from_dict({"activation": "exponential"})


def test_the_allowlists_are_exactly_what_vaests_exports_hold(own_exports):
    """Derived: the op types of every graph of vaest's exports (those of the saver-only functions
    apart) and the objects of their object graphs are exactly the lists, nothing more, and the
    lists are written sorted."""
    from vaest.export import trust

    model, saver, objects = set(), set(), set()
    for path in own_exports:
        proto = trust.read_saved_model(path)
        for _, node, in_saver in trust.every_node(proto):
            (saver if in_saver else model).add(node.op)
        (meta_graph,) = proto.meta_graphs
        objects.update(trust.describe_object(o) for o in meta_graph.object_graph_def.nodes)
        assert trust.foreign_ops(path) == [] and trust.foreign_objects(path) == []
    lists = {"MODEL_OPS": trust.MODEL_OPS, "SAVER_OPS": trust.SAVER_OPS, "OBJECTS": trust.OBJECTS}
    assert sorted(model) == sorted(lists["MODEL_OPS"])
    assert sorted(saver) == sorted(lists["SAVER_OPS"])
    assert sorted(objects) == sorted(lists["OBJECTS"])
    assert {"SaveV2", "RestoreV2"} <= saver - model
    module = ast.parse((ROOT / "vaest" / "export" / "trust.py").read_text())
    literals = {
        node.targets[0].id: [element.value for element in node.value.args[0].elts]
        for node in module.body
        if isinstance(node, ast.Assign) and node.targets[0].id in lists
    }
    assert literals == {name: sorted(listed) for name, listed in lists.items()}


# --- hostile exports, built here and never shipped -----------------------------------------------


def images_spec():
    import tensorflow as tf

    return tf.TensorSpec([None, *IMAGE_SIZE, 3], tf.float32, name="images")


def write_run(run: Path, module, signatures: dict) -> Path:
    """RUN with RUN/data and RUN/export around a SavedModel of `module`: all that mogrify and
    evaluation read before the export is loaded, and what Exported reads after."""
    import numpy as np
    import tensorflow as tf

    from vaest.data.records import Domain, Manifest

    export = run / "export"
    (run / "data").mkdir(parents=True)
    export.mkdir()
    tf.saved_model.save(module, str(export / "saved_model"), signatures=signatures)
    domains = [Domain(0, "clip", "video", fps=25.0), Domain(1, "art", "painting")]
    manifest = Manifest(IMAGE_SIZE, domains, {"train": [], "val": []}).to_json()
    for folder in (run / "data", export):
        (folder / "manifest.json").write_text(manifest)
    info = {"image_size": list(IMAGE_SIZE), "latent_dim": 4, "has_refiner": False, "vae_step": 1}
    (export / "export.json").write_text(json.dumps(info))
    (export / "config.json").write_text("{}")
    np.savez(
        export / "latents.npz", names=np.array(["clip", "art"]),
        kinds=np.array(["video", "painting"]), centroid=np.zeros([2, 4], np.float32),
        std=np.ones([2, 4], np.float32), count=np.array([1, 1]),
    )  # fmt: skip
    return run


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def encoder(body):
    """A module whose encode signature runs body(images) beside an honest-looking mean: with a
    variable, as vaest's, so that its calls are the ones vaest's exports make."""
    import tensorflow as tf

    class Hostile(tf.Module):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable(1.0)

        @tf.function(input_signature=[images_spec()])
        def encode(self, images):
            done = [t for t in tf.nest.flatten(body(images)) if t is not None]
            with tf.control_dependencies(done):  # so that the function runs it
                mean = self.scale * tf.reduce_mean(images, axis=[1, 2])
            return {"mean": mean, "log_variance": mean}

    module = Hostile()
    return module, {"encode": module.encode}


def copied_by_a_hidden_graph(tmp: Path):
    """DatasetFromGraph over a base64 string decoded at run time: the dataset's graph, which no
    check can read, copies a secret file."""
    import tensorflow as tf

    secret, copy = tmp / "secret.txt", tmp / "copied.txt"
    secret.write_text("the user's secret")

    def leak(_):
        content = tf.io.read_file(str(secret))
        with tf.control_dependencies([tf.io.write_file(str(copy), content)]):
            return tf.strings.length(content)

    graph = tf.data.Dataset.from_tensors(0).map(leak)._as_serialized_graph()
    hidden = base64.urlsafe_b64encode(graph.numpy()).decode()

    def body(images):
        # Joined with an empty string of the batch's making: decoded at run time, not folded.
        empty = tf.strings.substr(tf.strings.as_string(tf.shape(images)[0]), 0, 0)
        graph_def = tf.io.decode_base64(tf.strings.join([hidden, empty]))
        variant = tf.raw_ops.DatasetFromGraph(graph_def=graph_def)
        dataset = tf.data.experimental.from_variant(variant, tf.TensorSpec([], tf.int32))
        return dataset.reduce(0, lambda total, length: total + length)

    return encoder(body), copy, None


def saved_under_a_forged_exemption(tmp: Path):
    """SaveV2 writing chosen bytes where it likes, in the encode function, which an extra
    attribute on the saver's node names as if it were the saver's."""
    import tensorflow as tf

    target = tmp / "written"

    def body(images):
        return tf.raw_ops.SaveV2(
            prefix=str(target), tensor_names=["chosen"], shape_and_slices=[""],
            tensors=[tf.constant("chosen bytes")],
        )  # fmt: skip

    def forge(meta_graph):
        saving = next(
            f.signature.name
            for f in meta_graph.graph_def.library.function
            if "traced_save" not in f.signature.name and any(n.op == "SaveV2" for n in f.node_def)
        )
        restore = meta_graph.saver_def.restore_op_name.split(":")[0]
        node = next(n for n in meta_graph.graph_def.node if n.name == restore)
        node.attr["saver_function"].func.name = saving

    return encoder(body), target.with_suffix(".index"), forge


def calling_an_op_as_a_function(tmp: Path):
    """The signature's call names the op WriteFile in place of a function of the library."""

    def redirect(meta_graph):
        for function in meta_graph.graph_def.library.function:
            for node in function.node_def:
                if node.op == "StatefulPartitionedCall":
                    node.attr["f"].func.name = "WriteFile"

    return encoder(lambda images: None), None, redirect


def using(op: str):
    """A hostile export whose encode runs `op` (files, a checkpoint, shards, the network, a
    traceback); built, never run."""

    def build(tmp: Path):
        import tensorflow as tf

        pattern, printed = str(tmp / "*"), tmp / "printed.txt"
        raw = tf.raw_ops
        bodies = {
            "MatchingFilesDataset": lambda images: raw.MatchingFilesDataset(patterns=[pattern]),
            "GenerateVocabRemapping": lambda images: raw.GenerateVocabRemapping(
                new_vocab_file=pattern, old_vocab_file=pattern, new_vocab_offset=0,
                num_new_vocab=1,
            ),
            "LoadAndRemapMatrix": lambda images: raw.LoadAndRemapMatrix(
                ckpt_path=pattern, old_tensor_name="kernel", num_rows=1, num_cols=1,
                row_remapping=tf.constant([0], tf.int64), col_remapping=tf.constant([], tf.int64),
                initializing_values=tf.constant([], tf.float32),
            ),
            "RecordInput": lambda images: raw.RecordInput(file_pattern=pattern),
            "RegisterDatasetV2": lambda images: raw.RegisterDatasetV2(
                dataset=tf.data.Dataset.range(1)._variant_tensor, address="localhost:1",
                protocol="grpc", external_state_policy=0,
            ),
            "Assert": lambda images: tf.debugging.Assert(tf.reduce_all(images < 0), [images]),
            "PrintV2": lambda images: tf.print(images, output_stream=f"file://{printed}"),
        }  # fmt: skip
        return encoder(bodies[op]), printed if op == "PrintV2" else None, None

    return build


HOSTILE = {
    "DatasetFromGraph": copied_by_a_hidden_graph,
    "SaveV2": saved_under_a_forged_exemption,
    "WriteFile": calling_an_op_as_a_function,
    **{op: using(op) for op in (
        "MatchingFilesDataset", "GenerateVocabRemapping", "LoadAndRemapMatrix", "RecordInput",
        "RegisterDatasetV2", "Assert", "PrintV2",
    )},
}  # fmt: skip


def hostile_run(tmp: Path, op: str) -> tuple[Path, Path | None]:
    """(RUN holding the hostile export named by op, the file it would write or None)."""
    from tensorflow.core.protobuf import saved_model_pb2

    (module, signatures), written, edit = HOSTILE[op](tmp)
    run = write_run(tmp / "run", module, signatures)
    if edit is not None:
        path = run / "export" / "saved_model" / "saved_model.pb"
        proto = saved_model_pb2.SavedModel.FromString(path.read_bytes())
        edit(proto.meta_graphs[0])
        path.write_bytes(proto.SerializeToString())
    return run, written


@pytest.mark.parametrize("op", sorted(HOSTILE))
def test_a_hostile_export_is_refused_naming_the_op_and_writes_nothing(tmp_path, op):
    from vaest.export.read import load_export

    run, written = hostile_run(tmp_path, op)
    before = files_under(tmp_path)
    with pytest.raises(UserError, match=rf"the ops? (.*, )?{op}\b.*--trust_export") as refused:
        load_export(run, "cpu", "float32")
    assert "\n" not in str(refused.value)
    assert files_under(tmp_path) == before
    assert written is None or not written.exists()


def registered_as_a_class_of_its_choosing(tmp: Path):
    """The root object names a registered class, which the loader would revive by its code."""

    def register(meta_graph):
        meta_graph.object_graph_def.nodes[0].registered_name = "chosen.Class"

    return encoder(lambda images: None), None, register


def holding_an_asset(tmp: Path):
    """An asset, a file the loader looks up; vaest's exports hold none."""
    import tensorflow as tf

    (tmp / "asset.txt").write_text("data")
    module, signatures = encoder(lambda images: None)
    module.asset = tf.saved_model.Asset(str(tmp / "asset.txt"))
    return (module, signatures), None, None


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (registered_as_a_class_of_its_choosing, "registered as chosen.Class (node 0 "),
        (holding_an_asset, "asset (node "),
    ],
)
def test_an_object_vaests_exports_never_hold_is_refused(tmp_path, monkeypatch, build, words):
    from vaest.export.read import load_export

    monkeypatch.setitem(HOSTILE, "object", build)
    run, _ = hostile_run(tmp_path, "object")
    with pytest.raises(UserError, match=rf"the export has the loader revive .*{re.escape(words)}"):
        load_export(run, "cpu", "float32")


@pytest.mark.parametrize("op", ["DatasetFromGraph", "SaveV2"])
def test_trusted_the_hostile_export_loads_and_does_what_the_check_kept_from_running(tmp_path, op):
    """--trust_export loads what the allowlist refuses: here it copies the secret, or writes."""
    import numpy as np

    from vaest.export.read import load_export

    run, written = hostile_run(tmp_path, op)
    load_export(run, "cpu", "float32", trust=True).encode(np.zeros([1, *IMAGE_SIZE, 3]))
    assert written.exists()


@pytest.mark.parametrize("script", ["mogrify_video.py", "evaluate_latents.py"])
def test_the_scripts_refuse_the_hidden_graph_and_copy_nothing(tmp_path, script):
    from conftest import make_video

    run, copy = hostile_run(tmp_path, "DatasetFromGraph")
    clip = make_video(tmp_path / "clip.mp4", frames=4, size="64x36")
    args = [f"--run_dir={run}"]
    if script == "mogrify_video.py":
        args += [f"--input={clip}", f"--output={tmp_path / 'out.mp4'}"]
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *args], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode != 0
    assert "DatasetFromGraph" in result.stderr and "--trust_export" in result.stderr
    assert "Traceback" not in result.stderr
    assert not copy.exists() and not (tmp_path / "out.mp4").exists()
