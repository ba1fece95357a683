"""Case ids, built and parsed in one place: `a:b:c` from a case's values, `scenario/case` as a global key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SEP = ":"


def case_id(values: Sequence[str]) -> str:
    """The id of a case: its parameter values in declared order, joined by `:`."""
    return SEP.join(values)


def key(scenario: str, case: str) -> str:
    """`scenario/case_id`: a case's name across scenarios (report columns, --case globs, bisect)."""
    return f"{scenario}/{case}"


def split(text: str) -> tuple[str, str]:
    """`scenario/case_id` -> (scenario, case_id); a bare case id gives an empty scenario."""
    scenario, sep, case = text.partition("/")
    return (scenario, case) if sep else ("", text)


def artifact(params: Mapping[str, str]) -> str:
    """What a saving cell writes for a cross-load case: one file per mask value and format (`list:.keras`)."""
    return SEP.join((params["mask_value"], params["format"]))


def upgrade(source_scenario: str, source_case: str, saved_by: str) -> str:
    """The id of an upgrade case: the source case's key and the cell that saved its file."""
    return f"{key(source_scenario, source_case)}@{saved_by}"


def split_upgrade(case: str) -> tuple[str, str, str]:
    """An upgrade case id -> (source scenario, source case, saving cell)."""
    source, _, saved_by = case.rpartition("@")
    scenario, case_id = split(source)
    return scenario, case_id, saved_by
