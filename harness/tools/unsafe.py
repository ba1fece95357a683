"""Which releases would act on a file's risky findings (the advisory catalog), and so where `check` refuses to load.

A refusal names the finding, where it sits, what the release would do with it, and the advisory or release
family behind that. The ranges come from `security/advisories.toml`; a new advisory is a data change.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.decl import advisories
from harness.decl.advisories import Entry
from harness.decl.cells import Cell
from harness.tools.inspect import Inspection
from harness.tools.risks import Risk

SAFE_MODE_WORDS = ("safe_mode", "safe mode", "unsafe_deserialization")  # how releases word their own refusal


@dataclass(frozen=True)
class Refusal:
    """A finding a cell's release would act on while loading, and the catalog entries that say so."""

    risk: Risk
    entries: tuple[Entry, ...]

    def text(self, cell: Cell) -> str:
        """One sentence for the verdict: the finding, where, what the release would do, and why we know."""
        package, version = advisories.release(cell)
        first = self.entries[0]
        cites = ", ".join(e.cite() for e in self.entries)
        return (f"{self.risk.detail} at {self.risk.where}: {package} {version} {first.effect} from it while "
                f"loading ({first.summary}; {cites})")  # fmt: skip


def refusals(insp: Inspection, cell: Cell, catalog: list[Entry]) -> list[Refusal]:
    """Every finding of the file that the cell's release would act on."""
    found = []
    for risk in insp.risks:
        hits = advisories.covering(catalog, risk.kind, insp.kind, cell)
        if hits:
            found.append(Refusal(risk, tuple(hits)))
    return found


def acting(risk: Risk, fmt: str, catalog: list[Entry]) -> list[str]:
    """Who acts on this finding in a file of this format: each entry's releases and its id, as text."""
    out = []
    for e in catalog:
        if risk.kind in e.findings and fmt in e.formats:
            ranges = "; ".join(f"{p} {v}".strip() if v else f"every {p} release" for p, v in e.affected.items())
            out.append(f"{ranges} ({e.cite()})")
    return out


def refused_by_release(message: str | None) -> bool:
    """Whether a load failed because the release's own safe mode refused what the file holds."""
    return bool(message) and any(w in str(message) for w in SAFE_MODE_WORDS)
