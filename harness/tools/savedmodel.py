"""What a SavedModel's protocol buffers hold, read without TensorFlow: its graph ops and its Keras configs.

`check` must not import a framework to inspect an untrusted file, and the `protobuf` package cannot decode a
message without TensorFlow's generated classes, so this module reads the wire format itself (hand-written,
about 40 lines): varints and length-delimited fields along known field numbers of `saved_model.proto`,
`meta_graph.proto`, `graph.proto`, `function.proto` and Keras 2's `saved_metadata.proto`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harness.errors import UserError

# SavedModel.meta_graphs = 2; MetaGraphDef.graph_def = 2; GraphDef.node = 1, .library = 2;
# FunctionDefLibrary.function = 1; FunctionDef.signature = 1 (OpDef.name = 1), .node_def = 3; NodeDef.op = 2.
# SavedMetadata.nodes = 1; SavedObject.metadata = 5 (a JSON string per Keras object).
META_GRAPHS, GRAPH_DEF, NODE, LIBRARY, FUNCTION, SIGNATURE, NODE_DEF, OP, NAME = 2, 2, 1, 2, 1, 1, 3, 2, 1
METADATA_NODES, METADATA = 1, 5


class Malformed(ValueError):
    """The bytes are not the protocol buffer they should be."""


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(data) or shift > 63:
            raise Malformed("truncated varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, bytes | int]]:
    """(field number, value) of one message: bytes for length-delimited fields, ints for varints."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield number, value
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise Malformed("a field runs past the end of its message")
            yield number, data[i : i + size]
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise Malformed(f"wire type {wire}")


def _sub(data: bytes, number: int) -> Iterator[bytes]:
    for n, value in fields(data):
        if n == number and isinstance(value, bytes):
            yield value


def _nodes(graph: bytes) -> Iterator[tuple[str, str]]:
    """(function or '' for the top graph, op) of every node of a GraphDef, functions included."""
    for node in _sub(graph, NODE):
        for op in _sub(node, OP):
            yield "", op.decode("utf-8", "replace")
    for library in _sub(graph, LIBRARY):
        for function in _sub(library, FUNCTION):
            name = next((n.decode("utf-8", "replace") for s in _sub(function, SIGNATURE) for n in _sub(s, NAME)), "")
            for node in _sub(function, NODE_DEF):
                for op in _sub(node, OP):
                    yield name, op.decode("utf-8", "replace")


def ops(path: Path) -> list[tuple[str, str]]:
    """(function, op) of every node in every meta graph of `path/saved_model.pb`; bad bytes raise UserError."""
    try:
        data = (path / "saved_model.pb").read_bytes()
        return [found for meta in _sub(data, META_GRAPHS) for graph in _sub(meta, GRAPH_DEF) for found in _nodes(graph)]
    except Malformed as exc:
        raise UserError(f"{path}: saved_model.pb is not a SavedModel protocol buffer ({exc})") from None


def keras_configs(path: Path) -> list[str]:
    """The JSON metadata Keras 2 stored per object in `keras_metadata.pb` (empty when there is none)."""
    meta = path / "keras_metadata.pb"
    if not meta.is_file():
        return []
    try:
        return [m.decode("utf-8", "replace") for node in _sub(meta.read_bytes(), METADATA_NODES)
                for m in _sub(node, METADATA)]  # fmt: skip
    except Malformed as exc:
        raise UserError(f"{path}: keras_metadata.pb is not Keras metadata ({exc})") from None
