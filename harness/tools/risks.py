"""The static security pass of `check`: what in a model file could run code, touch files or reach the network
while some release loads it, read without a framework and without executing anything.

Each `Risk` names its kind, where it sits and what it is; which releases would act on it is the advisory
catalog's business (`harness.decl.advisories`), so a new advisory is a data change.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.tools import savedmodel

OWN = ("keras", "tf_keras")  # the top-level modules of Keras' own namespaces
FILE_FUNCTIONS = ("get_file", "load_model", "load_weights", "save_model", "save_weights", "load_img", "save_img",
                  "model_from_json", "model_from_yaml", "model_from_config")  # fmt: skip
UNSAFE_SWITCH = "enable_unsafe_deserialization"
LOOKUPS = ("StringLookup", "IntegerLookup", "TextVectorization", "IndexLookup")
# Graph ops that read or write files or run Python whenever the graph runs (modelscan flags ReadFile and
# WriteFile); the save/restore ops are only flagged outside the SavedModel's own save and restore functions.
GRAPH_OPS = {
    "ReadFile": "reads a file", "WriteFile": "writes a file", "MatchingFiles": "lists files",
    "ImmutableConst": "maps a file into memory", "PyFunc": "runs Python", "PyFuncStateless": "runs Python",
    "EagerPyFunc": "runs Python", "CreateSummaryFileWriter": "writes event files",
    "WriteSummary": "writes event files", "WriteScalarSummary": "writes event files",
    "WriteRawProtoSummary": "writes event files", "DebugIdentityV2": "writes debug dumps",
    "DebugIdentityV3": "writes debug dumps", "InitializeTableFromTextFile": "reads a file",
    "InitializeTableFromTextFileV2": "reads a file", "TextLineDataset": "reads files",
    "TFRecordDataset": "reads files", "TFRecordDatasetV2": "reads files", "FixedLengthRecordDataset": "reads files",
    "FixedLengthRecordDatasetV2": "reads files", "CSVDataset": "reads files", "CSVDatasetV2": "reads files",
    "SqlDataset": "opens a database", "ExperimentalSqlDataset": "opens a database", "LMDBDataset": "reads files",
    "SaveDataset": "writes files", "SaveDatasetV2": "writes files", "LoadDataset": "reads files",
    "WholeFileReader": "reads files", "WholeFileReaderV2": "reads files",
    "SaveV2": "writes a checkpoint", "Save": "writes a checkpoint", "SaveSlices": "writes a checkpoint",
    "RestoreV2": "reads a checkpoint", "Restore": "reads a checkpoint", "RestoreSlice": "reads a checkpoint",
    "MergeV2Checkpoints": "writes a checkpoint",
}  # fmt: skip
CHECKPOINT_OPS = ("SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints")
PICKLE_START = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@dataclass(frozen=True)
class Risk:
    """One thing in the file that a loading release could act on: its kind, where, and what it is."""

    kind: str
    where: str
    detail: str
    layer: str = ""


def _own(module: str) -> bool:
    return module.split(".")[0] in OWN


class _Found:
    def __init__(self) -> None:
        self.risks: list[Risk] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, kind: str, where: str, detail: str, layer: str = "") -> None:
        if (kind, where) not in self._seen:
            self._seen.add((kind, where))
            self.risks.append(Risk(kind, where or "/", detail, layer))


def _named(node: dict[str, Any]) -> str:
    """A function's name (its config) or a class's name."""
    inner = node.get("config")
    if node.get("class_name") == "function" and isinstance(inner, str):
        return inner
    return str(node.get("class_name"))


def scan_config(config: Any, found: _Found | None = None, base: str = "") -> list[Risk]:
    """Risks in a model config (a `.keras` config.json, an HDF5 model_config, Keras 2 SavedModel metadata)."""
    found = found or _Found()

    def walk(node: Any, path: str, layer: str) -> None:
        if isinstance(node, str):
            if node.rsplit(".", 1)[-1] == UNSAFE_SWITCH:
                found.add("unsafe-switch", path, f"a reference to {node}", layer)
            return
        if isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]", layer)
            return
        if not isinstance(node, dict):
            return
        cls, inner, module = node.get("class_name"), node.get("config"), node.get("module")
        if isinstance(cls, str) and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            layer = f"{cls} {inner['name']}"
            if any(part in inner["name"] for part in ("..", "/", "\\")):
                found.add("path-name", path, f"the name {inner['name']!r}", layer)
        bytecode = cls == "Lambda" and isinstance(inner, dict) and inner.get("function_type") == "lambda"
        if cls == "__lambda__" or bytecode:
            found.add("lambda-code", path, "a Lambda's function stored as marshalled Python bytecode", layer)
        if cls == "Lambda" and isinstance(inner, dict) and isinstance(inner.get("module"), str):
            fn = inner.get("function")
            if inner.get("function_type") == "function" and not _own(inner["module"]):
                found.add("outside-module", path, f"the Lambda function {inner['module']}.{fn}", layer)
        if isinstance(module, str) and isinstance(cls, str) and module and not _own(module):
            found.add("outside-module", path, f"{'function' if cls == 'function' else 'class'} "
                      f"{module}.{_named(node)}", layer)  # fmt: skip
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            found.add("custom-object", path, f"the registered custom object {registered} (module {module})", layer)
        name = _named(node) if isinstance(cls, str) else ""
        if cls == "function" and name.rsplit(".", 1)[-1] in FILE_FUNCTIONS:
            found.add("file-function", path, f"the function {module}.{name}", layer)
        if cls in LOOKUPS and isinstance(inner, dict) and isinstance(inner.get("vocabulary"), str):
            found.add("vocabulary-path", path, f"vocabulary {inner['vocabulary']!r}", layer)
        if cls == "TFSMLayer":
            target = inner.get("filepath") if isinstance(inner, dict) else None
            found.add("savedmodel-reference", path, f"a TFSMLayer loading {target!r}", layer)
        if cls == "TorchModuleWrapper":
            found.add("pickle", path, "a TorchModuleWrapper: its module is a pickled torch object", layer)
        for k, v in node.items():
            walk(v, f"{path}/{k}", layer)

    walk(config, base, "")
    return found.risks


def _npy_pickles(data: bytes) -> bool:
    """Whether an .npy payload holds Python objects (read with allow_pickle it would unpickle them)."""
    import numpy as np

    fmt = np.lib.format
    try:
        fh = io.BytesIO(data)
        version = fmt.read_magic(fh)
        _, _, dtype = fmt.read_array_header_1_0(fh) if version == (1, 0) else fmt.read_array_header_2_0(fh)
    except (ValueError, OSError):
        return False
    return bool(dtype.hasobject)


def scan_h5(source: Any, where: str, found: _Found) -> None:
    """External links, external storage and virtual datasets in an HDF5 file (a path or an open binary file)."""
    import h5py

    with h5py.File(source, "r") as f:

        def visit(name: str, link: Any) -> None:
            if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                target = f"{link.filename}:{link.path}" if isinstance(link, h5py.ExternalLink) else link.path
                found.add("hdf5-link", f"{where}:/{name}", f"a {type(link).__name__} to {target}")
                return
            obj = f.get(name, getlink=False) if isinstance(link, h5py.HardLink) else None
            if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                how = "virtual dataset" if obj.is_virtual else f"external storage in {obj.external[0][0]!r}"
                found.add("hdf5-link", f"{where}:/{name}", f"a {how}")

        f.visititems_links(visit)


def scan_archive(path: Path, found: _Found) -> None:
    """Pickles, object arrays and HDF5 links among a `.keras` archive's members."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename
            with archive.open(info) as member:
                head = member.read(8)
            if name.endswith((".pkl", ".pickle")) or head.startswith(PICKLE_START):
                found.add("pickle", name, f"the member {name} is a pickle")
            elif name.endswith(".npy") and _npy_pickles(archive.read(info)):
                found.add("pickle", name, f"the member {name} holds Python objects")
            elif name.endswith(".npz"):
                with zipfile.ZipFile(io.BytesIO(archive.read(info))) as inner:
                    for sub in inner.namelist():
                        if _npy_pickles(inner.read(sub)):
                            found.add("pickle", f"{name}/{sub}", f"the array {sub} in {name} holds Python objects")
            elif head == b"\x89HDF\r\n\x1a\n":
                with archive.open(info) as member:
                    scan_h5(io.BytesIO(member.read()), name, found)


def scan_savedmodel(path: Path, found: _Found) -> None:
    """Risky graph ops, Keras 2 metadata, and pickles beside a SavedModel's graph."""
    for function, op in savedmodel.ops(path):
        if op not in GRAPH_OPS:
            continue
        if op in CHECKPOINT_OPS and function.startswith(("__inference__traced_save", "__inference__traced_restore")):
            continue  # every SavedModel has these: they write and read its own variables folder
        where = f"saved_model.pb:{function or 'graph'}"
        found.add("graph-op", f"{where}:{op}", f"the op {op} ({GRAPH_OPS[op]}) in {function or 'the graph'}")
    for i, text in enumerate(savedmodel.keras_configs(path)):
        try:
            scan_config(json.loads(text), found, f"keras_metadata.pb[{i}]")
        except ValueError:
            continue
    for member in sorted(path.rglob("*")):
        if member.is_file() and member.suffix in (".pkl", ".pickle"):
            found.add("pickle", str(member.relative_to(path)), f"the file {member.name} is a pickle")


def scan_file(kind: str, path: Path, config: dict[str, Any] | None) -> list[Risk]:
    """Every risk in a file `inspect` has read: its config, and what its format carries besides."""
    found = _Found()
    if config is not None:
        scan_config(config, found)
    if kind == "keras":
        scan_archive(path, found)
    elif kind in ("h5", "weights"):
        scan_h5(path, path.name, found)
    elif kind == "savedmodel":
        scan_savedmodel(path, found)
    return found.risks
