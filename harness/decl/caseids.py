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
