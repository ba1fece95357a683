"""Scenarios as data: load `scenarios/*.toml`, check every id against the registry, expand cases."""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import builders
from harness.errors import UserError

PARAM_IDS: dict[str, tuple[str, ...]] = {
    "mask_value": builders.MASK_VALUE_KINDS,
    "format": builders.FORMATS,
}
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "rnn": str,
    "units": int,
    "timesteps": int,
    "features": int,
    "batch": int,
    "padding": str,
    "pad_fraction": (int, float),
    "mask": (int, float),
    "seed": int,
}
TOP_KEYS = {"id", "title", "builder", "timeout_s", "model", "tolerance", "params"}
# The code whose behaviour a row records: a change to it makes stored rows stale.
MEASURED_SOURCES = ("builders.py", "worker.py")


@dataclass(frozen=True)
class Case:
    """One point of a scenario's parameter cross-product."""

    scenario: str
    case_id: str
    params: dict[str, str]


@dataclass(frozen=True)
class Scenario:
    """A declared scenario: builder, model settings, tolerance and parameter axes."""

    id: str
    title: str
    builder: str
    timeout_s: float
    model: dict[str, Any]
    tolerance: dict[str, float]
    params: dict[str, list[str]]
    hash: str

    def cases(self) -> list[Case]:
        """The cross-product in declared order, with stable ids."""
        names = list(self.params)
        out = []
        for values in itertools.product(*(self.params[n] for n in names)):
            out.append(Case(self.id, ":".join(values), dict(zip(names, values, strict=True))))
        return out


def _line_of(text: str, key: str) -> int:
    """The first line that sets `key` or opens a `[key]` table (0 when none does)."""
    for no, line in enumerate(text.splitlines(), 1):
        bare = line.strip()
        if bare.startswith(f"[{key}]") or bare.split("=")[0].strip() == key:
            return no
    return 0


def _hash(data: dict[str, Any]) -> str:
    here = Path(__file__).parent
    h = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    for name in MEASURED_SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:12]


def parse(path: Path) -> Scenario:
    """Read one scenario file; problems raise UserError naming file, line and field."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise UserError(f"cannot read scenario file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None

    def bad(field: str, why: str) -> UserError:
        key = field.split(".")[-1]
        return UserError(f"{path}:{_line_of(text, key)}: field {field!r} {why}")

    for key in data:
        if key not in TOP_KEYS:
            raise bad(key, f"is not a scenario field (allowed: {sorted(TOP_KEYS)})")
    for key in ("id", "builder", "model", "tolerance", "params"):
        if key not in data:
            raise UserError(f"{path}: required field {key!r} is missing")
    if data["builder"] not in builders.BUILDERS:
        raise bad("builder", f"names {data['builder']!r}, not a registered builder {list(builders.BUILDERS)}")
    if path.stem != data["id"]:
        raise bad("id", f"is {data['id']!r} but the file is named {path.name}; they must match")
    model = data["model"]
    for key, typ in MODEL_KEYS.items():
        if key not in model:
            raise UserError(f"{path}: [model] needs {key!r}")
        if not isinstance(model[key], typ) or isinstance(model[key], bool):
            raise bad(f"model.{key}", f"has the wrong type ({model[key]!r})")
    for key in model:
        if key not in MODEL_KEYS:
            raise bad(f"model.{key}", "is not a model setting")
    if model["rnn"] not in builders.RNN_KINDS:
        raise bad("model.rnn", f"is {model['rnn']!r}, not one of {list(builders.RNN_KINDS)}")
    if model["padding"] not in ("pre", "post"):
        raise bad("model.padding", "must be 'pre' or 'post'")
    tol = data["tolerance"]
    if set(tol) != {"rtol", "atol"} or not all(isinstance(v, (int, float)) for v in tol.values()):
        raise bad("tolerance", "must hold exactly the numbers rtol and atol")
    params = data["params"]
    for name, ids in params.items():
        if name not in PARAM_IDS:
            raise bad(f"params.{name}", f"is not a case parameter (known: {sorted(PARAM_IDS)})")
        if not isinstance(ids, list) or not ids:
            raise bad(f"params.{name}", "must be a non-empty list of ids")
        for value in ids:
            if value not in PARAM_IDS[name]:
                raise bad(f"params.{name}", f"has unknown id {value!r} (known: {list(PARAM_IDS[name])})")
    for name in PARAM_IDS:
        if name not in params:
            raise UserError(f"{path}: [params] needs {name!r}")
    return Scenario(
        id=data["id"],
        title=data.get("title", data["id"]),
        builder=data["builder"],
        timeout_s=float(data.get("timeout_s", 180)),
        model=dict(model),
        tolerance={k: float(v) for k, v in tol.items()},
        params={k: list(v) for k, v in params.items()},
        hash=_hash(data),
    )


def load_all(folder: Path) -> list[Scenario]:
    """Every scenario file in the folder, sorted by id."""
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise UserError(f"no scenario files (*.toml) in {folder}")
    return [parse(f) for f in files]


def select(scenarios: list[Scenario], patterns: list[str] | None) -> list[Case]:
    """Cases whose `scenario/case_id` or `case_id` matches any glob pattern (all when none given)."""
    cases = [c for s in scenarios for c in s.cases()]
    if not patterns:
        return cases
    chosen = [
        c
        for c in cases
        if any(
            fnmatch.fnmatchcase(c.case_id, p) or fnmatch.fnmatchcase(f"{c.scenario}/{c.case_id}", p) for p in patterns
        )
    ]
    if not chosen:
        raise UserError(f"no case matches {patterns}; case ids look like {cases[0].scenario}/{cases[0].case_id}")
    return chosen
