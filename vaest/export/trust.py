"""An export is a program: its graphs run when it is loaded and called. Before loading one, its
graphs are read as data and refused if they hold an op that reaches outside the computation.

vaest's own exports hold only arithmetic, convolutions and variable reads in their signatures
(AddV2, Conv2D, Elu, MatMul, ReadVariableOp, ... see tests/test_hostile.py), plus the checkpoint
ops (SaveV2, RestoreV2, MergeV2Checkpoints) in the saver functions every SavedModel carries, which
nothing calls when an export is loaded. An op that reads or writes files, runs a process or
Python, talks to the network, or writes summaries or prints to a file, anywhere else, is refused
in one line naming it; --trust_export skips the check for an export whose maker is trusted.
"""

from __future__ import annotations

from pathlib import Path

from vaest.errors import UserError

# Ops that act outside the computation: files, processes and Python, the network, logging to a
# file, datasets that read or write files. None is in an export made by vaest.
FOREIGN_OPS = frozenset(
    {
        # files
        "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "InitializeTableFromTextFile",
        "InitializeTableFromTextFileV2", "WholeFileReader", "WholeFileReaderV2", "TextLineReader",
        "TextLineReaderV2", "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2", "IdentityReader", "IdentityReaderV2", "LMDBReader",
        "ReaderReadV2", "ReaderRead", "DecodeWav", "Save", "SaveV2", "SaveSlices", "Restore",
        "RestoreV2", "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec",
        "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
        "DebugNumericSummary", "DebugNumericSummaryV2", "CopyHost", "Copy",
        # datasets that read, write or cache files, or fetch over the network
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
        "SqlDataset", "ExperimentalSqlDataset", "LMDBDataset", "ExperimentalLMDBDataset",
        "CacheDataset", "CacheDatasetV2", "SnapshotDataset", "SnapshotDatasetV2",
        "SaveDataset", "SaveDatasetV2", "LoadDataset", "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord", "DataServiceDataset", "DataServiceDatasetV2",
        "DataServiceDatasetV3", "DataServiceDatasetV4", "DistributedSave",
        # processes and Python
        "PyFunc", "PyFuncStateless", "EagerPyFunc",
        # the network
        "Rpc", "TryRpc", "RpcClient", "RpcCall", "RpcServer", "RpcServerStart",
        "RpcServerRegister", "RpcCheckStatus", "RpcGetValue", "CollectiveReduce",
        "CollectiveReduceV2", "CollectiveReduceV3", "CollectiveGather", "CollectiveGatherV2",
        "CollectiveBcastSend", "CollectiveBcastRecv", "CollectiveBcastSendV2",
        "CollectiveBcastRecvV2", "CollectiveAllToAllV2", "CollectiveAllToAllV3", "_Send", "_Recv",
        "Send", "Recv", "_HostSend", "_HostRecv",
        # printing and summaries (PrintV2 writes to a file named by its output_stream)
        "Print", "PrintV2", "WriteSummary", "WriteRawProtoSummary", "WriteScalarSummary",
        "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "ImportEvent", "FlushSummaryWriter",
        "CloseSummaryWriter", "SummaryWriter",
    }
)  # fmt: skip
# What every SavedModel's saver functions hold; they run only when a model is saved or restored
# through its own graph, which loading an export does not do.
CHECKPOINT_OPS = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin"}
)


def _call_targets(node) -> list[str]:
    """The functions a node calls: its function-valued attributes (f, then_branch, body, ...)."""
    names = []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        names.extend(f.name for f in value.list.func)
    return names


def _saver_functions(meta_graph, functions: dict) -> set[str]:
    """The functions the saver's save and restore nodes reach."""
    names = {
        meta_graph.saver_def.save_tensor_name.split(":")[0],
        meta_graph.saver_def.restore_op_name.split(":")[0],
    }
    pending = [
        target
        for node in meta_graph.graph_def.node
        if node.name in names
        for target in _call_targets(node)
    ]
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        if name in reached or name not in functions:
            continue
        reached.add(name)
        pending.extend(t for node in functions[name].node_def for t in _call_targets(node))
    return reached


def foreign_ops(saved_model: str | Path) -> list[tuple[str, str]]:
    """(op type, where) of every foreign op in a SavedModel folder, read as data: nothing runs."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model) / "saved_model.pb").read_bytes())
    found = []
    for meta_graph in proto.meta_graphs:
        functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
        saver = _saver_functions(meta_graph, functions)
        for node in meta_graph.graph_def.node:
            if node.op in FOREIGN_OPS:
                found.append((node.op, f"graph node {node.name}"))
        for name, function in functions.items():
            allowed = CHECKPOINT_OPS if name in saver else frozenset()
            for node in function.node_def:
                if node.op in FOREIGN_OPS and node.op not in allowed:
                    found.append((node.op, f"function {name}"))
    return found


def require_trusted(saved_model: str | Path) -> None:
    """Refuse an export whose graphs hold a foreign op, naming it (vaest.export.read)."""
    found = foreign_ops(saved_model)
    if found:
        op, where = found[0]
        raise UserError(
            f"{saved_model}: the export runs the op {op} ({where}), which reaches outside the "
            "model (files, processes, Python or the network) and is never in an export vaest "
            "makes; an export is a program: if you trust whoever made it, pass --trust_export"
        )
