"""The cause catalog as data (`causes/causes.toml`): why a failing row failed, in a sentence a user can act on.

A failing row gets the first cause whose match fits its innermost exception (`harness.signature.innermost`), or
`unexplained`. The catalog is checked on load: unknown fields, stages or regular expressions that do not
compile stop with one line that names the cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness import signature
from harness.decl import toml
from harness.decl.handlers import STAGES
from harness.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "causes" / "causes.toml"
UNEXPLAINED = "unexplained"
FAILING = ("fail", "mismatch", "crash", "timeout")
FIELDS = {"id", "sentence", "upstream", "note", "match"}
MATCH_FIELDS = {"type", "message", "outer", "stage"}


@dataclass(frozen=True)
class Match:
    """One way a cause shows: the innermost exception's type and message, the outer message, the stage."""

    type: re.Pattern[str] | None
    message: re.Pattern[str] | None
    outer: re.Pattern[str] | None
    stages: tuple[str, ...]

    def fits(self, stage: str | None, kind: str | None, inner: str, outer: str) -> bool:
        """Whether every field this match sets fits the row."""
        return (
            (not self.stages or stage in self.stages)
            and (self.type is None or self.type.fullmatch(kind or "") is not None)
            and (self.message is None or self.message.search(inner) is not None)
            and (self.outer is None or self.outer.search(outer) is not None)
        )


@dataclass(frozen=True)
class Cause:
    """A reason a case fails: its id, the sentence a user reads, where upstream tells of it, and its matches."""

    id: str
    sentence: str
    matches: tuple[Match, ...]
    upstream: str | None = None
    note: str = ""


def _pattern(raw: Any, where: str) -> re.Pattern[str] | None:
    if raw is None:
        return None
    try:
        return re.compile(str(raw), re.S)
    except re.error as exc:
        raise UserError(f"{where}: the regular expression {raw!r} does not compile ({exc})") from None


def _match(raw: dict[str, Any], where: str) -> Match:
    unknown = set(raw) - MATCH_FIELDS
    if unknown:
        raise UserError(f"{where}: unknown match field(s) {', '.join(sorted(unknown))}")
    if not set(raw) & {"type", "message", "outer"}:
        raise UserError(f"{where}: a match needs a type, a message or an outer pattern")
    stages = tuple(str(s) for s in raw.get("stage", ()))
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise UserError(f"{where}: unknown stage(s) {', '.join(bad)}")
    return Match(_pattern(raw.get("type"), where), _pattern(raw.get("message"), where),
                 _pattern(raw.get("outer"), where), stages)  # fmt: skip


def _cause(raw: dict[str, Any], where: str) -> Cause:
    unknown = set(raw) - FIELDS
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in ("id", "sentence", "match"):
        if key not in raw:
            raise UserError(f"{where}: missing field {key}")
    where = f"{where} ({raw['id']})"
    matches = tuple(_match(dict(m), f"{where}, match {i + 1}") for i, m in enumerate(raw["match"]))
    return Cause(str(raw["id"]), str(raw["sentence"]), matches, raw.get("upstream"), str(raw.get("note", "")))


def parse(data: dict[str, Any], where: str) -> tuple[Cause, ...]:
    """The causes of a catalog's table, checked."""
    causes = tuple(_cause(dict(raw), f"{where}: cause {i + 1}") for i, raw in enumerate(data.get("cause", [])))
    ids = [c.id for c in causes]
    twice = sorted({i for i in ids if ids.count(i) > 1} | ({UNEXPLAINED} & set(ids)))
    if twice:
        raise UserError(f"{where}: cause id(s) {', '.join(twice)} used twice or reserved")
    return causes


@lru_cache(maxsize=4)
def load(path: Path = CATALOG) -> tuple[Cause, ...]:
    """The catalog's causes, in the order they are tried."""
    return parse(toml.read(path, "cause catalog"), str(path))


def classify(row: dict[str, Any], causes: tuple[Cause, ...]) -> str | None:
    """The id of the cause a failing row failed by (`unexplained` if none fits); None for a row that did not fail."""
    if row.get("outcome") not in FAILING:
        return None
    return _classify(row.get("failed_stage"), row.get("error_type"), row.get("error_message"),
                     row.get("error_cause_type"), row.get("error_cause_message"), causes)  # fmt: skip


@lru_cache(maxsize=8192)  # upgrade rows repeat a few dozen errors tens of thousands of times
def _classify(stage: str | None, error_type: str | None, message: str | None, cause_type: str | None,
              cause_message: str | None, causes: tuple[Cause, ...]) -> str:  # fmt: skip
    kind, inner = signature.innermost(error_type, message, cause_type, cause_message)
    for cause in causes:
        if any(m.fits(stage, kind, inner, str(message or "")) for m in cause.matches):
            return cause.id
    return UNEXPLAINED
