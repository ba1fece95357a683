"""Rewrite a `.keras` file whose config holds tagged tensors/arrays into plain values: zip + JSON, no framework.

The proof that the rewritten file predicts as the original runs in a cell (`harness.child.prove`).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from harness.errors import UserError

CONFIG = "config.json"
TAGS = ("__tensor__", "__numpy__")


def untag(value: Any) -> Any:
    """A tagged `{"class_name": "__tensor__" | "__numpy__", "config": {"value": ...}}` dict -> its plain value."""
    if isinstance(value, dict) and value.get("class_name") in TAGS and isinstance(value.get("config"), dict):
        return value["config"].get("value")
    return value


def plain(value: Any) -> Any:
    """A tensor or array -> nested Python lists and floats; anything else unchanged."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _walk(node: Any, path: str, changes: list[str]) -> Any:
    if isinstance(node, dict):
        if node.get("class_name") in TAGS and isinstance(node.get("config"), dict):
            changes.append(f"{path}: {node['class_name']} -> list")
            return untag(node)
        return {k: _walk(v, f"{path}/{k}", changes) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, f"{path}[{i}]", changes) for i, v in enumerate(node)]
    return node


def repair_config(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config with every tagged tensor/array replaced by its plain value, and where that happened."""
    changes: list[str] = []
    fixed = _walk(config, "", changes)
    return fixed, changes


def read_config(src: Path) -> dict[str, Any]:
    """A `.keras` file's config, read without a framework (one UserError naming what is wrong)."""
    if not src.is_file():
        raise UserError(f"{src}: no such file")
    if not zipfile.is_zipfile(src):
        raise UserError(f"{src}: not a .keras (zip) file")
    with zipfile.ZipFile(src) as zin:
        if CONFIG not in zin.namelist():
            raise UserError(f"{src}: has no {CONFIG}; is it a Keras v3 (.keras) file?")
        try:
            return dict(json.loads(zin.read(CONFIG)))
        except json.JSONDecodeError as exc:
            raise UserError(f"{src}: {CONFIG} is not valid JSON ({exc.msg})") from None


def write_config(src: Path, dst: Path, config: dict[str, Any]) -> None:
    """Write `dst`: the `.keras` file `src` with this config and every other member copied unchanged, keeping
    the input's permissions; nothing is left at `dst` if writing fails."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = json.dumps(config).encode() if info.filename == CONFIG else zin.read(info)
                zout.writestr(info, data)
        os.chmod(tmp, stat.S_IMODE(src.stat().st_mode))  # the new file keeps the input's permissions
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def repair_file(src: Path, dst: Path) -> list[str]:
    """Write `dst`: `src` with its config repaired and every other member copied unchanged."""
    fixed, changes = repair_config(read_config(src))
    write_config(src, dst, fixed)
    return changes
