"""Scenarios as data: load `scenarios/*.toml`, check every id against the registry, expand cases."""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.decl import caseids, handlers, kinds, registry, shim, toml
from harness.decl.registry import BUILDERS, Builder
from harness.errors import UserError

TOP_KEYS = {"id", "title", "builder", "timeout_s", "model", "tolerance", "params", "cells", "bench", "sources"}


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
    params: list[dict[str, list[str]]]
    hash: str
    cells: tuple[str, ...] = ()
    bench: dict[str, float] | None = None
    sources: tuple[str, ...] = ()  # the upgrade scenario: scenarios whose saved files every cell loads

    @property
    def handler(self) -> str:
        """The child handler that runs the cases: `cases` (checked), `latency` (timed) or `crossload`."""
        return BUILDERS[self.builder].handler.name

    @property
    def measured_by(self) -> str:
        """`handler/version` of the code that measures this scenario; stored rows must carry the same."""
        return BUILDERS[self.builder].handler.tag

    @property
    def timed(self) -> bool:
        """Whether this is a latency scenario (timed in rounds, not checked case by case)."""
        return handlers.get(self.handler).timed

    def cases(self) -> list[Case]:
        """The union of the declared cross-products, in declared order, with stable ids."""
        out = []
        for group in self.params:
            names = list(group)
            for values in itertools.product(*(group[n] for n in names)):
                out.append(Case(self.id, caseids.case_id(values), dict(zip(names, values, strict=True))))
        return out

    def find(self, **params: str) -> Case | None:
        """The case with exactly these parameter values, if the scenario declares one."""
        return next((c for c in self.cases() if c.params == params), None)

    def applies_to(self, cell_id: str, tags: list[str]) -> bool:
        """Whether the scenario runs on a cell: every cell unless `cells` names ids or tags."""
        return not self.cells or cell_id in self.cells or bool(set(tags) & set(self.cells))


def _line_of(text: str, key: str) -> int:
    """The first line that sets `key` or opens a `[key]` table (0 when none does)."""
    for no, line in enumerate(text.splitlines(), 1):
        bare = line.strip()
        if bare.startswith(f"[{key}]") or bare.split("=")[0].strip() == key:
            return no
    return 0


def _hash(data: dict[str, Any]) -> str:
    """The scenario's declaration (parsed data: comments and layout do not count)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def parse(path: Path) -> Scenario:
    """Read one scenario file; problems raise UserError naming file, line and field."""
    try:
        text = path.read_text(encoding="utf-8")
        data = toml.loads(text)
    except OSError as exc:
        raise UserError(f"cannot read scenario file {path}: {exc.strerror}") from None
    except toml.DecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None

    def bad(field: str, why: str) -> UserError:
        key = field.split(".")[-1]
        return UserError(f"{path}:{_line_of(text, key)}: field {field!r} {why}")

    for key in data:
        if key not in TOP_KEYS:
            raise bad(key, f"is not a scenario field (allowed: {sorted(TOP_KEYS)})")
    for key in ("id", "builder"):
        if key not in data:
            raise UserError(f"{path}: required field {key!r} is missing")
    builder = data["builder"]
    if builder not in BUILDERS:
        raise bad("builder", f"names {builder!r}, not a registered builder {list(BUILDERS)}")
    spec = BUILDERS[builder]
    if path.stem != data["id"]:
        raise bad("id", f"is {data['id']!r} but the file is named {path.name}; they must match")
    if spec.handler.name == "upgrade":
        return _upgrade(data, path, bad)
    for key in ("model", "tolerance", "params"):
        if key not in data:
            raise UserError(f"{path}: required field {key!r} is missing")
    if "sources" in data:
        raise bad("sources", "only applies to the upgrade scenario (builder 'upgrade')")
    model = data["model"]
    model_keys = spec.model_keys
    for key, typ in model_keys.items():
        if key not in model:
            raise UserError(f"{path}: [model] needs {key!r}")
        if not isinstance(model[key], typ) or isinstance(model[key], bool):
            raise bad(f"model.{key}", f"has the wrong type ({model[key]!r})")
    for key in model:
        if key not in model_keys:
            raise bad(f"model.{key}", f"is not a setting of builder {builder!r} (known: {sorted(model_keys)})")
    if "rnn" in model and model["rnn"] not in registry.RNN_KINDS:
        raise bad("model.rnn", f"is {model['rnn']!r}, not one of {list(registry.RNN_KINDS)}")
    if "padding" in model and model["padding"] not in registry.PADDINGS:
        raise bad("model.padding", f"must be one of {list(registry.PADDINGS)}")
    tol = data["tolerance"]
    if set(tol) != {"rtol", "atol"} or not all(isinstance(v, (int, float)) for v in tol.values()):
        raise bad("tolerance", "must hold exactly the numbers rtol and atol")
    groups = data["params"] if isinstance(data["params"], list) else [data["params"]]
    known = spec.param_ids
    for group in groups:
        if not isinstance(group, dict) or not group:
            raise bad("params", "must be a table of id lists, or an array of such tables")
        for name, ids in group.items():
            if name not in known:
                raise bad(f"params.{name}", f"is not a case parameter of {builder!r} (known: {sorted(known)})")
            if not isinstance(ids, list) or not ids:
                raise bad(f"params.{name}", "must be a non-empty list of ids")
            for value in ids:
                if known[name] == registry.ANY:
                    if not isinstance(value, str) or not value:
                        raise bad(f"params.{name}", f"has an empty or non-string id {value!r}")
                    continue
                if known[name] == registry.NUMBER:
                    if not registry.is_number(value):
                        raise bad(f"params.{name}", f"has {value!r}, not a non-negative number written as a string")
                    continue
                if value not in known[name]:
                    raise bad(f"params.{name}", f"has unknown id {value!r} (known: {list(known[name])})")
        for name in spec.required:
            if name not in group:
                raise UserError(f"{path}: every [params] group needs {name!r}")
    bench = _bench(data, spec, bad, path)
    cells = data.get("cells", [])
    if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
        raise bad("cells", "must be a list of cell ids or tags")
    if spec.handler.name == "crossload":
        saved_by = {v for g in groups for v in g.get("saved_by", [])}
        if not cells or saved_by != set(cells):
            raise bad("params.saved_by", f"must list exactly the scenario's cells {cells}, got {sorted(saved_by)}")
    return Scenario(
        id=data["id"],
        title=data.get("title", data["id"]),
        builder=data["builder"],
        timeout_s=float(data.get("timeout_s", 180)),
        model=dict(model),
        tolerance={k: float(v) for k, v in tol.items()},
        params=[{k: list(v) for k, v in g.items()} for g in groups],
        hash=_hash(data),
        cells=tuple(cells),
        bench=bench,
    )


def _upgrade(data: dict[str, Any], path: Path, bad: Any) -> Scenario:
    """The upgrade scenario: which scenarios' saved files every cell loads (its cases come from the cells)."""
    for key in ("model", "tolerance", "params", "bench", "cells"):
        if key in data:
            raise bad(key, "does not apply to the upgrade scenario: its cases are the files other scenarios save")
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(x, str) and x for x in sources):
        raise bad("sources", "must be a non-empty list of scenario ids")
    return Scenario(
        id=data["id"],
        title=data.get("title", data["id"]),
        builder=data["builder"],
        timeout_s=float(data.get("timeout_s", 120)),
        model={},
        tolerance={},
        params=[],
        # A change to what the shim may drop stales the rows; another source does not stale the others' rows (a
        # row is current while the file its saving cell keeps is the same, `harness.runner.parts.upgrade_paths`).
        hash=_hash({**{k: v for k, v in data.items() if k != "sources"}, "shim": shim.request()}),
        sources=tuple(sources),
    )


def _bench(data: dict[str, Any], spec: Builder, bad: Any, path: Path) -> dict[str, float] | None:
    """The `[bench]` table of a latency scenario (required there, refused elsewhere)."""
    if not spec.handler.timed:
        if "bench" in data:
            raise bad("bench", f"only applies to timed scenarios ('latency', 'sweep'), not {data['builder']!r}")
        return None
    table = data.get("bench")
    if not isinstance(table, dict):
        raise UserError(f"{path}: a latency scenario needs a [bench] table with {sorted(registry.BENCH_KEYS)}")
    known = {**registry.BENCH_KEYS, **registry.BENCH_OPTIONAL}
    for key in table:
        if key not in known:
            raise bad(f"bench.{key}", f"is not a bench setting (known: {sorted(known)})")
    for key, typ in known.items():
        if key not in table:
            if key in registry.BENCH_OPTIONAL:
                continue
            raise UserError(f"{path}: [bench] needs {key!r}")
        value = table[key]
        lowest = -2 if key == "cpu" else 0
        if (
            not isinstance(value, (int, float))
            or not isinstance(value, typ)
            or isinstance(value, bool)
            or value < lowest
        ):
            raise bad(f"bench.{key}", f"must be a non-negative number of the right type, got {value!r}")
    if table["rounds"] < 1 or table["samples"] < registry.MIN_SAMPLES:
        raise bad("bench.samples", f"needs rounds >= 1 and samples >= {registry.MIN_SAMPLES}")
    return {k: float(v) for k, v in table.items()}


def _unique(scenario: Scenario, path: Path) -> Scenario:
    ids = [c.case_id for c in scenario.cases()]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UserError(f"{path}: case ids repeat across [[params]] groups: {dupes}")
    return scenario


def load_all(folder: Path) -> list[Scenario]:
    """Every scenario file in the folder, sorted by id; an upgrade scenario's sources must be among them."""
    kinds.load()  # kinds the environment adds (MASKCOMPAT_KINDS) register their builders first
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise UserError(f"no scenario files (*.toml) in {folder}")
    scens = [_unique(parse(f), f) for f in files]
    by_id = {s.id: s for s in scens}
    for scen in scens:
        for source in scen.sources:
            if source not in by_id or by_id[source].handler != "cases":
                raise UserError(
                    f"{folder / (scen.id + '.toml')}: sources names {source!r}, not a scenario of checked cases here"
                )
    return scens


def select(
    scenarios: list[Scenario], patterns: list[str] | None, cell: tuple[str, list[str]] | None = None
) -> list[Case]:
    """Cases (of scenarios that apply to `cell`: id and tags) whose `scenario/case_id` or `case_id` matches."""
    every = [c for s in scenarios for c in s.cases()]
    cases = [c for s in scenarios if cell is None or s.applies_to(*cell) for c in s.cases()]
    if not patterns:
        return cases
    if not any(matches(c, patterns) for c in every):
        raise UserError(
            f"no case matches {patterns}; case ids look like {caseids.key(every[0].scenario, every[0].case_id)}"
        )
    return [c for c in cases if matches(c, patterns)]


def matches(c: Case, patterns: list[str]) -> bool:
    """Whether `case_id` or `scenario/case_id` matches any of the glob patterns."""
    return any(
        fnmatch.fnmatchcase(c.case_id, p) or fnmatch.fnmatchcase(caseids.key(c.scenario, c.case_id), p)
        for p in patterns
    )
