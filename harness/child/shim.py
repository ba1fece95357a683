"""The shim route in the target release: a copy of a `.keras` or `.h5` model file rewritten so that release's own
classes accept its config.

Tagged tensor and array values are made plain (`harness.rewrite`). Then, for every layer and initializer the
config names, the release's class says which of the file's arguments it refuses: those its `__init__` does not
name where it takes no `**kwargs`, else those the class names when it is built from the config alone (only
Keras' own classes are built, never one the file brings). A refused argument declared in `causes/shim.toml`
that holds its default there is dropped, and a class the release knows under another declared name is renamed.
Any other refused argument is kept, and the load decides: where it
fails on one of them, they are named and nothing is kept (a loader may take an argument at the model's level
that the class alone refuses, as Keras 3 takes a Keras 2 Sequential's `batch_input_shape`).
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import rewrite
from harness.child.routes import Skip

# How Keras and Python name the arguments a class does not take (the group: up to the end of the list).
REFUSAL = re.compile(r"(?:unexpected keyword argument|Unrecognized keyword argument(?:s|\(s\))?)([^}\]\n]*)")


class Refused(Exception):
    """The file holds refused arguments the shim cannot drop safely; the message names them."""


def droppable(table: dict[str, Any], class_name: str, name: str, value: Any) -> bool:
    """Whether a refused argument may be dropped: declared for this class, and holding its `off` value."""
    return any(
        a["name"] == name and (not a["classes"] or class_name in a["classes"])
        and type(a["off"]) is type(value) and a["off"] == value
        for a in table["drop"]
    )  # fmt: skip


def read(path: str) -> tuple[str, dict[str, Any]]:
    """The file's kind (`keras` or `h5`) and its model config."""
    p = Path(path)
    if p.is_file() and zipfile.is_zipfile(p):
        return "keras", rewrite.read_config(p)
    import h5py

    if not p.is_file() or not h5py.is_hdf5(p):
        raise Skip("the shim rewrites .keras and .h5 model files; this is neither")
    with h5py.File(p, "r") as f:
        raw = f.attrs.get("model_config")
    if raw is None:
        raise Skip("this .h5 file holds weights only: no model config to rewrite")
    return "h5", dict(json.loads(raw.decode() if isinstance(raw, bytes) else raw))


def write(kind: str, src: str, dst: str, config: dict[str, Any]) -> None:
    """The rewritten copy: the config replaced, everything else (the weights) copied byte for byte."""
    if kind == "keras":
        rewrite.write_config(Path(src), Path(dst), config)
        return
    import h5py

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["model_config"] = json.dumps(config).encode()


def resolve(keras: Any, node: dict[str, Any]) -> type | None:
    """The release's own class for a layer or initializer node; None for models, tensors and others' classes."""
    name = node["class_name"]
    module, registered = node.get("module"), node.get("registered_name")
    if name.startswith("__") or (module is not None and not str(module).startswith("keras")):
        return None
    if registered not in (None, name) and not str(registered).startswith("keras"):
        return None  # a class the file's own code registers
    for space in ("layers", "initializers", "regularizers", "constraints"):
        found = getattr(getattr(keras, space, None), name, None)
        if isinstance(found, type):
            return None if issubclass(found, keras.Model) else found
    return None


def knows(keras: Any, node: dict[str, Any]) -> bool:
    """Whether the release's own deserializer takes this initializer (or layer) node: its name is what counts, and
    only a name of the rename table is asked (`causes/shim.toml`), never a class the file brings."""
    for space in ("initializers", "layers"):
        try:
            made = getattr(keras, space).deserialize(copy.deepcopy(node))
        except Exception:  # not a name this space knows (or not this space's kind of object)
            continue
        if made is not None and not isinstance(made, str | dict):  # Keras 3.0 gives an unknown name back as a str
            return True
    return False


def named(cls: type) -> tuple[set[str], bool]:
    """The arguments the class's own `__init__` names, and whether it takes more (`**kwargs`, passed on to a base
    class that may accept some of them: only building tells)."""
    init = next((vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k)), None)
    try:
        params = list(inspect.signature(init).parameters.values()) if init is not None else []
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def refused(cls: type, config: dict[str, Any]) -> list[str]:
    """The file's arguments this class refuses."""
    names, more = named(cls)
    candidates = [k for k in config if k not in names]
    if not more or not candidates:
        return candidates
    out: list[str] = []
    current = dict(config)
    for _ in range(len(candidates) + 1):
        try:
            cls.from_config(copy.deepcopy(current))  # type: ignore[attr-defined]
            return out
        except Exception as exc:  # the class names the arguments it does not take
            message = str(exc)
        said = " ".join(m.group(1) for m in REFUSAL.finditer(message))
        hit = [k for k in candidates if k in current and re.search(f"['\"]{re.escape(k)}['\"]", said)]
        if not hit:
            return out  # it fails for another reason: loading will say which
        for k in hit:
            out.append(k)
            del current[k]
    return out


def fit(
    keras: Any, config: dict[str, Any], table: dict[str, Any]
) -> tuple[dict[str, Any], list[str], list[tuple[str, str]]]:
    """The config untagged and fitted to this release's classes; what changed; the refused arguments that cannot be
    dropped (name, where and value)."""
    changes: list[str] = []
    blockers: list[tuple[str, str]] = []

    def walk(node: Any, owner: str) -> Any:
        if isinstance(node, list):
            return [walk(v, owner) for v in node]
        if not isinstance(node, dict):
            return node
        if node.get("class_name") in rewrite.TAGS and isinstance(node.get("config"), dict):
            changes.append(f"{owner}: a tagged {node['class_name']} value made plain")
            return rewrite.untag(node)
        is_node = isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict)
        here = owner
        if is_node:
            cname = node["class_name"]
            lname = node["config"].get("name")
            here = f"{cname} `{lname}`" if isinstance(lname, str) else f"{cname} in {owner}" if owner else cname
        out = {k: walk(v, here) for k, v in node.items()}
        cls = resolve(keras, out) if is_node else None
        other = table["rename"].get(out["class_name"]) if is_node else None
        if other and not knows(keras, out) and knows(keras, {**out, "class_name": other}):
            changes.append(f"{here}: `{out['class_name']}` named `{other}`, as this release names it")
            out["class_name"] = other
            cls = resolve(keras, out)
        if cls is None:
            return out
        cfg = dict(out["config"])
        for name in refused(cls, cfg):
            value = cfg[name]
            if droppable(table, out["class_name"], name, value):
                del cfg[name]
                changes.append(f"{here}: dropped `{name}` = {json.dumps(value)} (not accepted here; its default)")
            else:
                blockers.append((name, f"{here}: `{name}` = {json.dumps(value)[:80]}"))
        out["config"] = cfg
        return out

    return walk(config, ""), changes, blockers


SUFFIX = {"keras": ".keras", "h5": ".h5"}  # what a loader reads the rewritten copy as (a Keras 2.12 `.keras` is HDF5)


@dataclass
class Shimmed:
    """The rewritten copy: where it is, what changed, and the refused arguments it kept (the class refuses them
    alone, but a loader may take them at the model's level, as Keras 3 takes a Keras 2 `batch_input_shape`)."""

    path: str
    changes: list[str]
    kept: list[tuple[str, str]]

    def load(self, load_model: Callable[[str], Any]) -> Any:
        """Load the copy; where loading fails on an argument it kept, Refused names them (nothing is kept)."""
        try:
            return load_model(self.path)
        except Exception as exc:
            said = " ".join(m.group(1) for m in REFUSAL.finditer(str(exc)))
            if any(f"'{name}'" in said for name, _ in self.kept):
                os.unlink(self.path)
                raise Refused(CANNOT + "; ".join(text for _, text in self.kept)) from exc
            raise


CANNOT = "this release refuses arguments the shim cannot drop safely: "


def apply(keras: Any, src: str, stem: str, table: dict[str, Any]) -> Shimmed:
    """Write the shimmed copy of `src` at `stem` + the suffix of its kind. Skip: nothing to change; Refused: nothing
    droppable, and arguments this release refuses that the shim cannot drop safely (nothing written)."""
    kind, config = read(src)
    fixed, changes, kept = fit(keras, config, table)
    if kind == "h5" and not src.endswith(".h5"):  # a Keras 2.12 `.keras` is HDF5: loaders read it by its name
        changes.append(f"the file is HDF5: copied under an `.h5` name, not `{Path(src).suffix}`")
    if not changes and kept:
        raise Refused(CANNOT + "; ".join(text for _, text in kept))
    if not changes:
        raise Skip("nothing in the file for the shim to change for this release")
    dst = stem + SUFFIX[kind]
    write(kind, src, dst, fixed)
    return Shimmed(dst, changes, kept)
