"""The static pass of `check`: what a saved model file is, what in it is known to break, and what in it could run
code while loading (`harness.tools.risks`), read without a framework.

Nothing in the file is executed or imported: a `.keras` archive is read member by member (never extracted),
HDF5 through h5py, a SavedModel folder by its files and protocol buffers. Input that is no model, is
truncated, names members outside the archive, or is larger than the limits stops with a UserError (one
line) before anything is written.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.decl.zoo_match import layer_classes
from harness.errors import UserError
from harness.tools.risks import OWN, Risk, scan_file

MAX_BYTES = 2 << 30  # a file or folder larger than 2 GiB is refused
MAX_UNCOMPRESSED = 4 << 30  # so is an archive whose members would take more than 4 GiB
MAX_MEMBERS = 10_000
TAGS = ("__tensor__", "__numpy__")
OLD_MODULES = ("keras.src.engine", "keras.engine", "tensorflow.python.keras", "tf_keras.src.engine")


@dataclass(frozen=True)
class Finding:
    """One thing in the file that the matrix knows can break: its kind, where, and what it is."""

    kind: str  # tagged-value | custom-class | old-module | dtype-policy
    where: str
    detail: str
    layer: str = ""  # the class of the layer it sits in


@dataclass
class Inspection:
    """What the file is (kind, saving versions and date), its config, and the findings."""

    path: Path
    kind: str  # keras | h5 | savedmodel | weights
    keras_version: str | None = None
    backend: str | None = None
    date_saved: str | None = None
    config: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    masks: bool = False  # the model has a Masking layer
    compiled: bool = False  # an HDF5 file keeps a training config (a `.keras` one says so in its config)

    @property
    def family(self) -> str | None:
        """`keras2` or `keras3` from the saving version (None: not recorded)."""
        if not self.keras_version:
            return None
        return "keras2" if self.keras_version.split(".")[0] == "2" else "keras3"


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _safe_member(name: str, where: Path) -> None:
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise UserError(f"{where}: archive member {name!r} points outside the archive; refusing the file")


def _keras(path: Path) -> Inspection:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a readable .keras archive (truncated or not a zip file: {exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UserError(f"{path}: {len(infos)} archive members, more than {MAX_MEMBERS}; refusing the file")
        for info in infos:
            _safe_member(info.filename, path)
        if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
            raise UserError(f"{path}: its members would take more than {MAX_UNCOMPRESSED >> 30} GiB; refusing the file")
        names = {i.filename for i in infos}
        if "config.json" not in names:
            raise UserError(f"{path}: has no config.json; not a Keras model archive")
        try:
            config = json.loads(archive.read("config.json"))
            meta = json.loads(archive.read("metadata.json")) if "metadata.json" in names else {}
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise UserError(f"{path}: its config cannot be read ({exc})") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: config.json is not a model config")
    return Inspection(path, "keras", meta.get("keras_version"), None, meta.get("date_saved"), config)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _h5(path: Path) -> Inspection:
    try:
        import h5py
    except ImportError:
        raise UserError("reading an HDF5 model needs h5py: `nox -s check` installs it") from None
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
            top = set(f.keys())
    except OSError as exc:
        raise UserError(f"{path}: not a readable HDF5 file (truncated or another format: {exc})") from None
    version, backend = _text(attrs.get("keras_version")), _text(attrs.get("backend"))
    raw = _text(attrs.get("model_config"))
    if raw is None:
        if not top:
            raise UserError(f"{path}: an HDF5 file with neither a model config nor weights; not a Keras model")
        return Inspection(path, "weights", version, backend)  # weights only: a model must be rebuilt to load them
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise UserError(f"{path}: its model_config is not JSON ({exc})") from None
    found = Inspection(path, "h5", version, backend, None, config)
    found.compiled = "training_config" in attrs
    return found


def _savedmodel(path: Path) -> Inspection:
    if not (path / "saved_model.pb").is_file():
        raise UserError(f"{path}: a folder without saved_model.pb; not a SavedModel")
    return Inspection(path, "savedmodel")


def inspect(path: Path) -> Inspection:
    """Read the file without running anything in it; bad input raises UserError."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    size = _size(path)
    if size > MAX_BYTES:
        raise UserError(f"{path}: {size >> 20} MiB, more than the {MAX_BYTES >> 30} GiB this check reads")
    if path.is_dir():
        found = _savedmodel(path)
    else:
        head = path.read_bytes()[:8]
        if head.startswith(b"PK"):
            found = _keras(path)
        elif head == b"\x89HDF\r\n\x1a\n":
            found = _h5(path)
        else:
            raise UserError(f"{path}: neither a .keras archive, an HDF5 file nor a SavedModel folder")
    if found.config is not None:
        found.findings = scan(found.config)
        found.masks = any(f == "Masking" for f in layer_classes(found.config))
    try:
        found.risks = scan_file(found.kind, path, found.config)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path}: a part of the file cannot be read ({type(exc).__name__}: {exc})") from None
    return found


def scan(config: dict[str, Any]) -> list[Finding]:
    """Known compatibility hazards in a config: tagged values, custom classes, old module paths, dtype policies."""
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, where: str, detail: str, layer: str) -> None:
        if (kind, where) not in seen:
            seen.add((kind, where))
            found.append(Finding(kind, where, detail, layer))

    def walk(node: Any, path: str, layer: str) -> None:
        if isinstance(node, dict):
            cls = node.get("class_name")
            if cls in TAGS:
                add("tagged-value", path, f"{cls} value stored in the config", layer)
                return
            name = layer
            if isinstance(cls, str) and isinstance(node.get("config"), dict):
                if isinstance(node["config"].get("name"), str):  # a layer or model (not an initializer or policy)
                    name = f"{cls} {node['config']['name']}"
                module = node.get("module")
                if node.get("registered_name") and not str(module or "").startswith(OWN):
                    add("custom-class", path, f"custom class {node['registered_name']} (module {module})", name)
                if isinstance(module, str) and module.startswith(OLD_MODULES):
                    add("old-module", path, f"module path {module} (Keras 2 layout)", name)
                if cls in ("DTypePolicy", "DTypePolicyMap", "FloatDTypePolicy") and not any(
                    f.kind == "dtype-policy" for f in found
                ):
                    add(
                        "dtype-policy", path, f"{cls} objects as layers' dtypes (Keras 3.4 and later write them)", layer
                    )
            for k, v in node.items():
                walk(v, f"{path}/{k}", name)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]", layer)

    walk(config, "", "")
    return found
