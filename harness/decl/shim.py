"""The shim route's declared arguments (`causes/shim.toml`): what may be dropped from a config, and at which value.

The parent reads the table and hands it to the child in the request (a Python 3.10 cell has no tomllib); the
child decides (`harness.child.shim.droppable`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.decl import toml
from harness.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "causes" / "shim.toml"
FIELDS = {"name", "off", "classes", "cause", "why"}
RENAME_FIELDS = {"name", "to", "cause", "why"}


@dataclass(frozen=True)
class Argument:
    """An argument the shim may drop: its name, its default where it is written, the classes, its cause."""

    name: str
    off: Any
    classes: tuple[str, ...]
    cause: str
    why: str

    def request(self) -> dict[str, Any]:
        """The argument as the child reads it."""
        return {"name": self.name, "off": self.off, "classes": list(self.classes)}


def _argument(raw: dict[str, Any], where: str, known: set[str] | None) -> Argument:
    unknown = set(raw) - FIELDS
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in ("name", "off", "cause", "why"):
        if key not in raw:
            raise UserError(f"{where}: missing field {key}")
    try:
        off = json.loads(str(raw["off"]))
    except json.JSONDecodeError as exc:
        raise UserError(f"{where} ({raw['name']}): off must be JSON ({exc.msg}): {raw['off']!r}") from None
    if known is not None and raw["cause"] not in known:
        raise UserError(f"{where} ({raw['name']}): no cause {raw['cause']!r} in causes.toml")
    return Argument(str(raw["name"]), off, tuple(str(c) for c in raw.get("classes", ())), str(raw["cause"]),
                    str(raw["why"]))  # fmt: skip


@dataclass(frozen=True)
class Rename:
    """A class a release knows under another name: the file's name, the other, its cause."""

    name: str
    to: str
    cause: str
    why: str


@dataclass(frozen=True)
class Table:
    """What the shim may drop, and what it may rename."""

    arguments: tuple[Argument, ...]
    renames: tuple[Rename, ...]


def _rename(raw: dict[str, Any], where: str, known: set[str] | None) -> Rename:
    unknown = set(raw) - RENAME_FIELDS
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in sorted(RENAME_FIELDS):
        if key not in raw:
            raise UserError(f"{where}: missing field {key}")
    if known is not None and raw["cause"] not in known:
        raise UserError(f"{where} ({raw['name']}): no cause {raw['cause']!r} in causes.toml")
    return Rename(str(raw["name"]), str(raw["to"]), str(raw["cause"]), str(raw["why"]))


def parse(data: dict[str, Any], where: str, known: set[str] | None = None) -> Table:
    """The table's arguments and renames, checked (`known`: the cause ids they may name)."""
    extra = set(data) - {"argument", "rename"}
    if extra:
        raise UserError(f"{where}: unknown table(s) {', '.join(sorted(extra))}")
    return Table(
        tuple(_argument(dict(r), f"{where}: argument {i + 1}", known) for i, r in enumerate(data.get("argument", []))),
        tuple(_rename(dict(r), f"{where}: rename {i + 1}", known) for i, r in enumerate(data.get("rename", []))),
    )


@lru_cache(maxsize=2)
def load(path: Path = TABLE) -> Table:
    """The declared arguments and renames, checked against the cause catalog."""
    from harness.decl import causes

    return parse(toml.read(path, "shim table"), str(path), {c.id for c in causes.load()})


def request(table: Table | None = None) -> dict[str, Any]:
    """The table as the child's request carries it: `drop` (the arguments), `rename` (file's name -> release's)."""
    table = load() if table is None else table
    return {"drop": [a.request() for a in table.arguments], "rename": {r.name: r.to for r in table.renames}}
