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


def parse(data: dict[str, Any], where: str, known: set[str] | None = None) -> tuple[Argument, ...]:
    """The table's arguments, checked (`known`: the cause ids they may name)."""
    return tuple(
        _argument(dict(r), f"{where}: argument {i + 1}", known) for i, r in enumerate(data.get("argument", []))
    )


@lru_cache(maxsize=2)
def load(path: Path = TABLE) -> tuple[Argument, ...]:
    """The declared arguments, checked against the cause catalog."""
    from harness.decl import causes

    return parse(toml.read(path, "shim table"), str(path), {c.id for c in causes.load()})


def request(arguments: tuple[Argument, ...] | None = None) -> list[dict[str, Any]]:
    """The table as the child's request carries it."""
    return [a.request() for a in (load() if arguments is None else arguments)]
