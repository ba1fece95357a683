"""The static security pass: every kind of unsafe finding, at any depth, read from hand-built files; clean files
give none.

The configs follow what Keras 2 and Keras 3 write (checked against files saved in real cells by
`tests/test_tools_check_untrusted.py`); HDF5 files are written with h5py and SavedModel protocol buffers
byte by byte, so no framework is needed.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.tools.inspect import inspect
from harness.tools.risks import scan_config

LAMBDA3 = {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}


def layer(cls: str, name: str, module: str = "keras.layers", **conf: Any) -> dict[str, Any]:
    return {"module": module, "class_name": cls, "config": {"name": name, **conf}, "registered_name": None}


def model(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": list(layers)}}


def kinds(config: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r.kind, r.layer) for r in scan_config(config)}


def test_a_lambda_is_found_at_any_depth() -> None:
    inner = model(layer("Lambda", "deep", function=LAMBDA3))
    cfg = model(
        layer("TimeDistributed", "td", layer=layer("Lambda", "wrapped", function=LAMBDA3)),
        layer(
            "Bidirectional",
            "bi",
            layer=layer("Lambda", "k2", function=["4wEA", None, None], function_type="lambda", module="__main__"),
        ),
        {"module": "keras", "class_name": "Functional", "config": {"name": "nested", "layers": [inner]}},
    )
    found = kinds(cfg)
    assert {("lambda-code", "Lambda wrapped"), ("lambda-code", "Lambda k2"), ("lambda-code", "Lambda deep")} <= found
    wrapped = next(r for r in scan_config(cfg) if r.layer == "Lambda wrapped")
    assert wrapped.where == "/config/layers[0]/config/layer/config/function"


def test_references_outside_keras_and_custom_objects() -> None:
    cfg = model(
        layer(
            "Dense",
            "d",
            activation={"module": "os", "class_name": "function", "config": "system", "registered_name": "system"},
        ),
        layer("Gate", "g", module="my_models.layers") | {"registered_name": "my_models>Gate"},
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "registered_name": None,
            "config": {"name": "named", "function": "exec", "function_type": "function", "module": "builtins"},
        },
    )
    details = {(r.kind, r.detail) for r in scan_config(cfg)}
    assert ("outside-module", "function os.system") in details
    assert ("outside-module", "class my_models.layers.Gate") in details
    assert ("custom-object", "the registered custom object my_models>Gate (module my_models.layers)") in details
    assert ("outside-module", "the Lambda function builtins.exec") in details


def test_switches_files_paths_and_payloads_in_a_config() -> None:
    unsafe = {"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization",
              "registered_name": "enable_unsafe_deserialization"}  # fmt: skip
    get_file = {"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": None}
    cfg = model(
        layer("Lambda", "switch", function=unsafe, function_type="function"),
        layer("Lambda", "fetch", function=get_file),
        layer("StringLookup", "words", vocabulary="/etc/passwd"),
        layer("TFSMLayer", "sm", filepath="/tmp/other"),
        {
            "module": "keras.layers",
            "class_name": "TorchModuleWrapper",
            "registered_name": None,
            "config": {"name": "torch", "module": "gASVAAAA"},
        },  # the pickled torch module, base64
        layer("Dense", "../../escape"),
    )
    assert {k for k, _ in kinds(cfg)} == {"unsafe-switch", "file-function", "vocabulary-path",
                                         "savedmodel-reference", "pickle", "path-name"}  # fmt: skip


def test_what_keras_writes_itself_is_clean() -> None:
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    cfg = model(
        layer("Masking", "m", mask_value=[0.0], dtype=policy),
        layer(
            "LSTM",
            "l",
            units=4,
            kernel_initializer={
                "module": "keras.initializers",
                "class_name": "GlorotUniform",
                "config": {"seed": None},
                "registered_name": None,
            },
        ),
        layer("StringLookup", "v", vocabulary=["a", "b"]),
        layer(
            "Lambda",
            "ops",
            function={"module": "keras.ops", "class_name": "function", "config": "abs", "registered_name": None},
        ),
        {
            "module": "tf_keras.src.engine.functional",
            "class_name": "Functional",
            "config": {"name": "f", "layers": []},
            "registered_name": "Functional",
        },
    )
    assert scan_config(cfg) == []


def archive(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def npy(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def test_pickles_and_object_arrays_in_an_archive(tmp_path: Path) -> None:
    inner = io.BytesIO()
    np.savez(inner, ok=np.zeros(3), objects=np.array([{"a": 1}], dtype=object))
    path = archive(tmp_path / "m.keras", {
        "config.json": json.dumps(model()).encode(),
        "assets/state.pkl": b"\x80\x04K\x01.",
        "assets/blob": b"\x80\x05\x95\x00",
        "assets/objects.npy": npy(np.array([None, 1], dtype=object)),
        "assets/plain.npy": npy(np.arange(3)),
        "model.weights.npz": inner.getvalue(),
    })  # fmt: skip
    where = sorted(r.where for r in inspect(path).risks if r.kind == "pickle")
    assert where == ["assets/blob", "assets/objects.npy", "assets/state.pkl", "model.weights.npz/objects.npy"]


def test_hdf5_links_and_external_storage(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["secret"] = np.arange(4.0)
    (tmp_path / "raw.bin").write_bytes(bytes(32))
    with h5py.File(tmp_path / "w.weights.h5", "w") as f:
        f["layers/dense/vars/0"] = np.zeros(2)
        f["layers/dense/vars/1"] = h5py.ExternalLink("other.h5", "/secret")
        f["layers/dense/vars/2"] = h5py.SoftLink("/layers/dense/vars/0")
        f.create_dataset("layers/dense/vars/3", shape=(4,), dtype="f8", external=[(str(tmp_path / "raw.bin"), 0, 32)])
    found = sorted((r.where.split(":", 1)[1], r.detail.split(" ")[1]) for r in inspect(tmp_path / "w.weights.h5").risks)
    assert found == [("/layers/dense/vars/1", "ExternalLink"), ("/layers/dense/vars/2", "SoftLink"),
                     ("/layers/dense/vars/3", "external")]  # fmt: skip
    with h5py.File(tmp_path / "clean.weights.h5", "w") as f:
        f["layers/dense/vars/0"] = np.zeros(2)
    assert inspect(tmp_path / "clean.weights.h5").risks == []


def varint(value: int) -> bytes:
    out = b""
    while True:
        out += bytes([value & 0x7F | (0x80 if value > 0x7F else 0)])
        value >>= 7
        if not value:
            return out


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protocol buffer field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def node(op: str) -> bytes:
    return field(1, b"n") + field(2, op.encode())


def saved_model(folder: Path, top: list[str], functions: dict[str, list[str]]) -> Path:
    library = b"".join(field(1, field(1, field(1, name.encode())) + b"".join(field(3, node(op)) for op in ops))
                       for name, ops in functions.items())  # fmt: skip
    graph = b"".join(field(1, node(op)) for op in top) + field(2, library)
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(field(2, field(2, graph)))
    return folder


def test_savedmodel_ops_that_touch_files(tmp_path: Path) -> None:
    path = saved_model(tmp_path / "sm", ["Placeholder", "ReadFile"], {
        "__inference_serve_1": ["MatMul", "WriteFile"],
        "__inference__traced_save_2": ["SaveV2", "MergeV2Checkpoints"],  # every SavedModel has these
        "__inference_evil_3": ["SaveV2"],
    })  # fmt: skip
    found = sorted(r.detail for r in inspect(path).risks)
    assert found == ["the op ReadFile (reads a file) in the graph", "the op SaveV2 (writes a checkpoint) in "
                     "__inference_evil_3", "the op WriteFile (writes a file) in __inference_serve_1"]  # fmt: skip
    clean = saved_model(tmp_path / "clean", ["Placeholder"], {"__inference__traced_restore_9": ["RestoreV2"]})
    assert inspect(clean).risks == []


def test_keras2_savedmodel_metadata_is_scanned(tmp_path: Path) -> None:
    path = saved_model(tmp_path / "sm", ["Placeholder"], {})
    meta = json.dumps({"class_name": "Lambda", "config": {"name": "l", "function": ["4wEA"], "function_type":
                                                                "lambda"}}).encode()  # fmt: skip
    object_ = field(3, b"root") + field(5, meta)
    (path / "keras_metadata.pb").write_bytes(field(1, object_))
    ((risk,),) = [inspect(path).risks]
    assert (risk.kind, risk.where) == ("lambda-code", "keras_metadata.pb[0]")
