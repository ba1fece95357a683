"""The content of a saved model, hashed so that two saves of the same model get the same address.

The hash covers what a loader reads, in a canonical form, and nothing else:
- a `.keras` archive: `config.json` and the weights. Its `metadata.json` (the saving Keras version and
  the date) is left out: neither Keras 2.13+ nor Keras 3 reads it when loading (`saving_lib`).
- HDF5 (legacy `.h5`, `.weights.h5`, the weights inside a `.keras`): every group, dataset and attribute in
  sorted order, so the file's layout does not count; the saving Keras version and backend attributes do.
- in every config, `shared_object_id` values are renumbered in order of appearance: they are the saving
  process's object ids, and a loader only compares them with each other.
- a SavedModel folder: every file's bytes, `fingerprint.pb` aside.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any


def canonical_config(text: str | bytes) -> bytes:
    """A JSON config with its `shared_object_id` values renumbered in order of appearance (other text: as is)."""
    try:
        config = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return text if isinstance(text, bytes) else text.encode()
    ids: dict[Any, int] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(config), sort_keys=True).encode()


def _bytes(value: Any) -> bytes:
    """A value read from HDF5 as bytes: text as text (configs canonical), numbers as their array bytes."""
    import numpy as np

    if isinstance(value, bytes):
        return canonical_config(value) if value[:1] == b"{" else value
    if isinstance(value, str):
        return canonical_config(value) if value[:1] == "{" else value.encode()
    arr = np.asarray(value)
    if arr.dtype.kind in "OSUa":
        return repr(arr.tolist()).encode()
    return arr.tobytes()


def _h5(fileobj: Any, h: Any) -> None:
    """Every group, dataset and attribute of an HDF5 file, in sorted order (its layout and times left out)."""
    import h5py

    def attrs(obj: Any) -> None:
        for key in sorted(obj.attrs):
            h.update(f"@{key}=".encode())
            h.update(_bytes(obj.attrs[key]))

    def walk(group: Any, path: str) -> None:
        attrs(group)
        for name in sorted(group):
            item = group[name]
            h.update(f"{path}/{name}".encode())
            if isinstance(item, h5py.Group):
                walk(item, f"{path}/{name}")
            else:
                h.update(f"{item.dtype}{item.shape}".encode())
                h.update(_bytes(item[()]))
                attrs(item)

    with h5py.File(fileobj, "r") as f:
        walk(f, "")


def _keras_zip(path: Path, h: Any) -> None:
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if name == "metadata.json":
                continue  # not read by any loader: the saving version and date only
            data = z.read(name)
            h.update(name.encode())
            if name.endswith(".h5"):
                _h5(io.BytesIO(data), h)
            elif name.endswith(".json"):
                h.update(canonical_config(data))
            else:
                h.update(data)


def content_hash(path: Path) -> str:
    """The address of a saved model file or folder (sha256 of what a loader reads, hex, 24 characters)."""
    h = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file() and p.name != "fingerprint.pb"):
            h.update(str(item.relative_to(path)).encode())
            h.update(item.read_bytes())
    elif zipfile.is_zipfile(path):
        _keras_zip(path, h)
    elif path.suffix == ".h5":
        with path.open("rb") as fh:
            _h5(fh, h)
    else:
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def array_hash(value: Any) -> str:
    """The address of an output array: its dtype, shape and bytes."""
    import numpy as np

    arr = np.ascontiguousarray(value)
    h = hashlib.sha256(f"{arr.dtype}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:24]
