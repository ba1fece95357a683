"""What each child handler measures, and the declared version of it.

A stored row records the version of the handler that measured it. Bump a version on purpose when a
change alters what that handler would record (a new stage, another comparison, another model); a
comment, a rename or a refactor changes nothing and stales no row. Version 1 of each handler is what the
harness measured before versions were declared (results schema 1): the code was reorganised, not changed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Handler:
    """A child handler: its name (the child's entry argument) and the version of what it measures."""

    name: str
    version: int
    measures: str

    @property
    def tag(self) -> str:
        """`name/version`, as rows store it in `measured_by`."""
        return f"{self.name}/{self.version}"


CASES = Handler("cases", 1, "a case's stages: build, predict, masking check, save, (repair), load, compare")
UPGRADE = Handler("upgrade", 1, "a file another cell saved: load it the route's way, predict, compare, check masking")
LATENCY = Handler("latency", 1, "samples of masked-RNN inference and the framework floor, each bracketed by refloop")
CROSSLOAD = Handler("crossload", 1, "files saved in one cell, loaded, predicted and compared in another")
PROVE = Handler("prove", 1, "a repaired .keras file loads and predicts as the original")
CHECK = Handler(
    "check",
    2,
    "a user's saved file, a read-only copy in a sandbox: load with safe mode on, run, fixes tried, "
    "masking checked (2: the parent refuses what a release would run; a writable scratch copy where a release "
    "opens the file for writing)",
)
HANDLERS = {h.name: h for h in (CASES, LATENCY, CROSSLOAD, PROVE, UPGRADE, CHECK)}
