"""The one registry of measurement kinds: each handler's name, the declared version of what it measures, and the
module that implements it at each layer (the child's, the matrix run's part, the reader section). The child
reads it too: `python -m harness.child NAME` imports the handler's child module.

A stored row records the version of the handler that measured it. Bump a version on purpose when a
change alters what that handler would record (a new stage, another comparison, another model); a
comment, a rename or a refactor changes nothing and stales no row. Version 1 of each handler is what the
harness measured before versions were declared (results schema 1): the code was reorganised, not changed.

Every child now records, beside a failure's exception, the exception that started its chain
(`error_cause_type`, `error_cause_message`). The kinds whose rows keep the message whole enough to quote that
exception (cases, latency: up to 4,000 characters) kept their version: readers take the cause from the quote
(`harness.signature.innermost`). The upgrade paths (600 characters) and the cross-load (a quote past 4,000
characters) cut it before the quote, so their version is 2.
"""

from __future__ import annotations

from dataclasses import dataclass

# Stages a case walks, in order; `install` and `import` belong to the cell and come first.
STAGES = (
    "install",
    "import",
    "build",
    "predict",
    "masking",
    "save",
    "repair",
    "load",
    "predict_after_load",
    "equivalence",
    "masking_after_load",
    "latency",
    "source",  # cross-load: the saving cell could not produce the file (`source_stage` says where)
)


@dataclass(frozen=True)
class Handler:
    """A kind of measurement: its name (the child's entry argument), the version of what it measures, and its
    modules: the child's (in the cell's interpreter), the runner part that `matrix` runs (None: not a matrix
    part) and the reader section that renders its rows (None: rows of its own, not in the report)."""

    name: str
    version: int
    measures: str
    child: str
    part: str | None = None
    section: str | None = None
    timed: bool = False  # its cases are timed in rounds (a `[bench]` table), not checked stage by stage

    @property
    def tag(self) -> str:
        """`name/version`, as rows store it in `measured_by`."""
        return f"{self.name}/{self.version}"


def kind(name: str, version: int, measures: str, module: str) -> Handler:
    """A kind that the matrix measures, its modules named by one convention: child, runner part, reader section."""
    return Handler(name, version, measures, f"harness.child.{module}", f"harness.runner.parts.{module}",
                   f"harness.readers.sections.{module}")  # fmt: skip


CASES = kind("cases", 1, "a case's stages: build, predict, masking check, save, (repair), load, compare", "cases")
UPGRADE = kind(
    "upgrade",
    3,
    "a file another cell saved: load it the route's way, predict, compare, check masking (2: a failure "
    "keeps the exception that started it in fields of its own; version 1 cut the message before it; 3: where "
    "a whole-model file fails, the shim route is tried on it and kept in the row's `shim`)",
    "upgrade_paths",
)
LATENCY = Handler(
    "latency", 1, "samples of masked-RNN inference and the framework floor, each bracketed by refloop",
    "harness.child.latency", "harness.runner.parts.latency", "harness.readers.sections.latency", timed=True,
)  # fmt: skip
SWEEP = Handler(
    "sweep", 3, "samples of masked-RNN inference over timesteps, padding, batch and units: masked, unmasked and the "
    "real work (the same weights on only the real steps), by the latency handler's child (2: one untimed "
    "round-robin sweep over every case before calibration and samples, as `warm_sweeps` declares; 3: the models of "
    "one timesteps and width are built once and shared by every batch size and padding)",
    "harness.child.latency", "harness.runner.parts.sweep", "harness.readers.sections.sweep", timed=True,
)  # fmt: skip
CROSSLOAD = kind("crossload", 2, "files saved in one cell, loaded, predicted and compared in another (2: the "
                 "exception that started a failure in fields of its own)", "crossload")  # fmt: skip
PROVE = Handler("prove", 1, "a repaired .keras file loads and predicts as the original", child="harness.child.prove")
CHECK = Handler(
    "check", 2, "a user's saved file, a read-only copy in a sandbox: load with safe mode on, run, fixes tried, "
    "masking checked (2: the parent refuses what a release would run; a writable scratch copy where a release "
    "opens the file for writing)",
    child="harness.child.check",
)  # fmt: skip
HANDLERS = {h.name: h for h in (CASES, LATENCY, SWEEP, CROSSLOAD, PROVE, UPGRADE, CHECK)}


def get(name: str) -> Handler:
    """The handler of that name (a KeyError names what exists)."""
    if name not in HANDLERS:
        raise KeyError(f"no handler {name!r}; the registry has {', '.join(HANDLERS)}")
    return HANDLERS[name]
