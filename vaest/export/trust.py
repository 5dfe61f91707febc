"""An export is a program: its graphs run when it is loaded and called. Before loading one, its
graphs are read as data and refused unless they hold only what vaest's own exports hold.

The check is an allowlist. Every graph of the SavedModel is read: the top graph's nodes and every
function of its library, the saver's functions included, and every function an attribute names.
Each op must be one of MODEL_OPS, the op types of the exports vaest makes for each model option
(tests/test_export_allowlist.py builds them and asserts the lists are exactly what they hold;
doc/export.md says how). An op that carries a graph of its own as a string (DatasetFromGraph,
...) is on no list, so it is refused with whatever it hides. A call names a function of the
library, never an op or a function the export does not hold.

The saver's functions hold the checkpoint ops (SAVER_OPS: SaveV2, RestoreV2, ...). They are
allowed in a function the saver's node calls only if nothing else names it: no object, no
signature, no other node or attribute. tf.saved_model.load runs none of those functions (it
restores variables from Python), so they are never reached at loading or inference; an attribute
added to the saver's node only makes more functions reachable, never fewer. A SavedModel that
tf.saved_model.load would read as TensorFlow 1 (no object graph, or several meta graphs) runs its
saver's restore op, so there the checkpoint ops are refused too.

The objects of the object graph, which the loader revives in Python, are checked the same way
against OBJECTS, the kinds of object vaest's exports hold.

An export that holds anything else is refused in one line naming the op or object;
--trust_export skips the check for an export whose maker is trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from vaest.errors import UserError

# The op types of vaest's exports, outside the saver's functions: the VAE (folded or not, each
# activation, resize or transpose upsampling), the refiner (each guide), the painter, and the
# bfloat16 twins, with the top graph's variables and signature calls. Derived, not chosen.
MODEL_OPS = frozenset(
    {
        "AddV2", "AssignVariableOp", "Atanh", "BiasAdd", "Cast", "ConcatV2", "Const", "Conv2D",
        "Conv2DBackpropInput", "DepthwiseConv2dNative", "Elu", "Erfc", "Exp", "ExpandDims",
        "Fill", "FloorMod", "Identity", "IdentityN", "LeakyRelu", "MatMul", "Maximum",
        "Mean", "Minimum", "MirrorPad", "Mul", "Neg", "NoOp", "Pack", "Placeholder",
        "Range", "ReadVariableOp", "RealDiv", "Relu", "Reshape", "Rsqrt", "Selu", "Shape",
        "Sigmoid", "Square", "SquaredDifference", "Squeeze", "StatefulPartitionedCall",
        "StopGradient", "StridedSlice", "Sub", "Sum", "Tanh", "Tile", "VarHandleOp",
        "VarIsInitializedOp",
    }
)  # fmt: skip
# The op types of the saver's functions, which write and read checkpoints.
SAVER_OPS = frozenset(
    {
        "AssignVariableOp", "Const", "DisableCopyOnRead", "Identity", "MergeV2Checkpoints",
        "NoOp", "Pack", "ReadVariableOp", "RestoreV2", "SaveV2", "Select",
        "ShardedFilename", "StaticRegexFullMatch", "StringJoin",
    }
)  # fmt: skip
# The objects of the exports' object graphs, which tf.saved_model.load revives in Python: by kind,
# and a user object by identifier. A registered class or saver, or an object with its own save and
# restore functions, would have the loader run code of the export's choosing; none is here.
OBJECTS = frozenset(
    {
        "bare_concrete_function", "captured_tensor", "function",
        "user_object _generic_user_object", "user_object signature_map",
        "user_object trackable_dict_wrapper", "user_object trackable_list_wrapper", "variable",
    }
)  # fmt: skip
# The op of the saver's nodes, which calls the function its attribute f names.
SAVER_CALL = "StatefulPartitionedCall"


def _named_functions(attrs) -> list[str]:
    """Every function an attribute map names (f, then_branch, body, a list of them, and those
    named in their own attributes): anything TensorFlow might call."""
    names = []
    for value in attrs.values():
        funcs = ([value.func] if value.HasField("func") else []) + list(value.list.func)
        for func in funcs:
            names.append(func.name)
            names.extend(_named_functions(func.attr))
    return names


def _object_functions(meta_graph) -> list[str]:
    """The functions the object graph names: what tf.saved_model.load makes callable (the
    signatures, restored functions, resource and checkpoint functions)."""
    objects = meta_graph.object_graph_def
    names = list(objects.concrete_functions)
    for node in objects.nodes:
        names.extend(node.function.concrete_functions)
        if node.HasField("bare_concrete_function"):
            names.append(node.bare_concrete_function.concrete_function_name)
    return names


def _saver_only(meta_graph, loads_as_v2: bool) -> set[str]:
    """The functions the saver's nodes call through f that nothing else names; none when the
    SavedModel loads as TensorFlow 1, whose loader runs the saver's restore op."""
    if not loads_as_v2:
        return set()
    saver = meta_graph.saver_def
    saver_nodes = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]}
    called, elsewhere = set(), set(_object_functions(meta_graph))
    for node in meta_graph.graph_def.node:
        attrs = dict(node.attr)
        if node.name in saver_nodes and node.op == SAVER_CALL and "f" in attrs:
            called.add(attrs.pop("f").func.name)
        elsewhere.update(_named_functions(attrs))
    library = meta_graph.graph_def.library
    for function in library.function:
        for node in function.node_def:
            elsewhere.update(_named_functions(node.attr))
    elsewhere.update(g.gradient_func for g in library.gradient)
    return called - elsewhere


def read_saved_model(saved_model: str | Path):
    """The SavedModel proto of a folder's saved_model.pb, what tf.saved_model.load reads."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model) / "saved_model.pb").read_bytes())
    return proto


def every_node(proto) -> Iterator[tuple[str, object, bool]]:
    """(where, node, whether it is in a saver-only function) for each node of every graph: each
    meta graph's top graph and every function of its library."""
    # What tf.saved_model.load reads as TensorFlow 2: one meta graph with an object graph.
    loads_as_v2 = len(proto.meta_graphs) == 1 and proto.meta_graphs[0].HasField("object_graph_def")
    for meta_graph in proto.meta_graphs:
        for node in meta_graph.graph_def.node:
            yield f"graph node {node.name}", node, False
        saver_only = _saver_only(meta_graph, loads_as_v2)
        for function in meta_graph.graph_def.library.function:
            name = function.signature.name
            for node in function.node_def:
                yield f"function {name}", node, name in saver_only


def foreign_ops(saved_model: str | Path) -> list[tuple[str, str]]:
    """(op type, where) of every op in a SavedModel folder that vaest's exports never hold, and
    of every call to a function it does not hold; read as data: nothing runs."""
    proto = read_saved_model(saved_model)
    functions = {f.signature.name for m in proto.meta_graphs for f in m.graph_def.library.function}
    found = []
    for where, node, saver in every_node(proto):
        if node.op not in (SAVER_OPS if saver else MODEL_OPS):
            found.append((node.op, where))
        for callee in _named_functions(node.attr):
            if callee not in functions:
                found.append((callee, f"{where}: {node.op} calls it, no function of the export"))
    for meta_graph in proto.meta_graphs:
        for callee in _object_functions(meta_graph):
            if callee not in functions:
                found.append((callee, "the object graph names it, no function of the export"))
    return found


def describe_object(node) -> str:
    """What tf.saved_model.load revives for a node of the object graph, as OBJECTS lists it."""
    described = node.WhichOneof("kind") or "nothing"
    if described == "user_object":
        described += f" {node.user_object.identifier}"
    if node.registered_name:
        described += f" registered as {node.registered_name}"
    if node.registered_saver:
        described += f" saved by {node.registered_saver}"
    if node.saveable_objects:
        described += " with its own save and restore functions"
    return described


def foreign_objects(saved_model: str | Path) -> list[tuple[str, str]]:
    """(object, where) of every object of a SavedModel's object graphs not in OBJECTS."""
    return [
        (described, f"node {i} of the object graph")
        for meta_graph in read_saved_model(saved_model).meta_graphs
        for i, node in enumerate(meta_graph.object_graph_def.nodes)
        if (described := describe_object(node)) not in OBJECTS
    ]


def _listed(found: list[tuple[str, str]]) -> str:
    names = list(dict.fromkeys(name for name, _ in found))
    listed = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    return f"{listed} ({found[0][1]})"


def require_trusted(saved_model: str | Path) -> None:
    """Refuse an export that holds what vaest's exports never hold, naming it (export.read)."""
    ops, objects = foreign_ops(saved_model), foreign_objects(saved_model)
    if ops:
        what = f"runs the op{'s' if len({op for op, _ in ops}) > 1 else ''} {_listed(ops)}"
    elif objects:
        what = f"has the loader revive {_listed(objects)}"
    else:
        return
    raise UserError(
        f"{saved_model}: the export {what}, which no export vaest makes holds (doc/export.md "
        "lists what the check allows); an export is a program: if you trust whoever made it, "
        "pass --trust_export"
    )
