"""The advisory catalog as data (`security/advisories.toml`): which releases act on which finding of a model file.

`check` refuses to load a file in a cell where an entry covers one of the file's findings, its format and the
cell's Keras release. The catalog is checked on load: unknown fields, finding kinds, formats or effects, and
version ranges that do not parse, stop with one line that names the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.decl import toml
from harness.decl.cells import Cell
from harness.errors import UserError

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "security" / "advisories.toml"
FORMATS = ("keras", "h5", "savedmodel", "weights")
EFFECTS = ("runs code", "reads files", "writes files", "network", "memory")
PACKAGES = ("keras", "tf-keras")
# The kinds of finding the static pass reports (`harness.tools.risks`), and what each could do.
FINDINGS = {
    "lambda-code": "Python bytecode (a Lambda layer's marshalled function), run where a release rebuilds it",
    "outside-module": "a class or function from a module outside Keras, imported and called where a release "
    "resolves it",
    "custom-object": "a registered custom object: a release that imports the module its config names runs "
    "that module's code",
    "unsafe-switch": "a reference to enable_unsafe_deserialization, which turns safe mode off mid-load",
    "file-function": "a Keras function that downloads, reads or writes files, called where a release resolves it",
    "vocabulary-path": "a lookup layer whose vocabulary is a file path or URL, read while loading",
    "savedmodel-reference": "a TFSMLayer, which loads another SavedModel (a graph of any ops) while loading",
    "pickle": "a pickled payload: unpickling runs code",
    "graph-op": "a graph op that touches files or runs Python whenever the model is called",
    "hdf5-link": "an HDF5 external link, external storage or virtual dataset: reading the weights reads another file",
    "path-name": "an object name with a path in it, which some releases join to a folder while loading",
}
FIELDS = {"id", "ghsa", "url", "affected", "fixed", "formats", "findings", "effect", "summary", "source", "note"}


@dataclass(frozen=True)
class Entry:
    """One advisory, or one behaviour of a release family: what it covers and why."""

    id: str
    affected: dict[str, str]  # package -> version ranges ("" is every release; "||" separates ranges)
    formats: tuple[str, ...]
    findings: tuple[str, ...]
    effect: str
    summary: str
    source: str
    ghsa: str | None = None
    url: str | None = None
    fixed: str | None = None
    note: str = ""

    @property
    def is_advisory(self) -> bool:
        """Whether it is a published advisory (a CVE), not a release family's design."""
        return self.id.startswith("CVE-")

    def cite(self) -> str:
        """How a verdict names it: the CVE with its fix, or the family behaviour's id."""
        return f"{self.id}, fixed in {self.fixed}" if self.fixed else self.id


def release(cell: Cell) -> tuple[str, str | None]:
    """The package whose version decides (`keras` or `tf-keras`) and that version."""
    return ("tf-keras", cell.tf_keras) if cell.flavor == "tf_keras" else ("keras", cell.keras)


def _ranges(text: str) -> list[SpecifierSet]:
    from packaging.specifiers import SpecifierSet  # imported here: `check --static` runs without it

    return [SpecifierSet(part.strip()) for part in text.split("||")]


def affects(entry: Entry, cell: Cell) -> bool:
    """Whether the cell's Keras release is in the entry's affected ranges."""
    from packaging.version import Version

    package, version = release(cell)
    if package not in entry.affected or version is None:
        return False
    v = Version(version)
    return any(v in spec for spec in _ranges(entry.affected[package]))


def covering(entries: list[Entry], kind: str, fmt: str, cell: Cell) -> list[Entry]:
    """The entries that say this cell acts on a finding of `kind` in a file of format `fmt`."""
    return [e for e in entries if kind in e.findings and fmt in e.formats and affects(e, cell)]


def _entry(raw: dict[str, Any], kinds: set[str], where: str) -> Entry:
    unknown = set(raw) - FIELDS
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        entry = Entry(
            id=str(raw["id"]),
            affected={str(k): str(v) for k, v in dict(raw["affected"]).items()},
            formats=tuple(raw["formats"]),
            findings=tuple(raw["findings"]),
            effect=str(raw["effect"]),
            summary=str(raw["summary"]),
            source=str(raw["source"]),
            ghsa=raw.get("ghsa"),
            url=raw.get("url"),
            fixed=raw.get("fixed"),
            note=str(raw.get("note", "")),
        )
    except KeyError as exc:
        raise UserError(f"{where}: missing field {exc.args[0]}") from None
    bad = (
        [f"package {p!r}" for p in entry.affected if p not in PACKAGES]
        + [f"format {f!r}" for f in entry.formats if f not in FORMATS]
        + [f"finding {k!r}" for k in entry.findings if k not in kinds]
        + ([f"effect {entry.effect!r}"] if entry.effect not in EFFECTS else [])
    )
    if bad:
        raise UserError(f"{where} ({entry.id}): unknown {', '.join(bad)}")
    if entry.findings and not entry.formats:
        raise UserError(f"{where} ({entry.id}): findings without formats would never refuse anything")
    if not entry.findings and not entry.note:
        raise UserError(f"{where} ({entry.id}): an entry that refuses nothing needs a note saying why")
    for text in entry.affected.values():
        try:
            _ranges(text)
        except ValueError as exc:  # packaging's InvalidSpecifier
            raise UserError(f"{where} ({entry.id}): version range {text!r}: {exc}") from None
        except ImportError:
            break  # without packaging the ranges are checked where they are used
    return entry


def load(path: Path = CATALOG) -> list[Entry]:
    """Every entry of the catalog, checked."""
    raw = toml.read(path, "advisory catalog")
    entries = [_entry(e, set(FINDINGS), f"{path.name} entry {i + 1}") for i, e in enumerate(raw.get("entry", []))]
    ids = [e.id for e in entries]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UserError(f"{path.name}: duplicate id(s) {', '.join(dupes)}")
    return entries
