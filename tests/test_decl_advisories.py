"""The advisory catalog: it loads, every finding kind is covered, ranges match releases, bad entries are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.decl import advisories, cells
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def cell(**pins: str) -> cells.Cell:
    return cells.Cell(id="c", python="3.11", tensorflow="2.21.0", keras=pins.get("keras"),
                      tf_keras=pins.get("tf_keras"), backend="tensorflow")  # fmt: skip


def test_the_catalog_loads_and_covers_every_kind_of_finding() -> None:
    catalog = advisories.load()
    covered = {k for e in catalog for k in e.findings}
    assert covered == set(advisories.FINDINGS)
    for e in catalog:
        assert e.summary and e.source
        if e.is_advisory:
            assert e.url and e.url.startswith("https://"), e.id
    assert {"CVE-2025-1550", "CVE-2025-9906", "CVE-2025-9905"} <= {e.id for e in catalog}


@pytest.mark.parametrize(
    ("kind", "fmt", "release", "refused"),
    [
        ("lambda-code", "h5", {"keras": "2.15.0"}, True),
        ("lambda-code", "h5", {"tf_keras": "2.21.0"}, True),
        ("lambda-code", "h5", {"keras": "3.11.2"}, True),
        ("lambda-code", "h5", {"keras": "3.11.3"}, False),
        ("lambda-code", "keras", {"keras": "3.0.5"}, False),  # Keras 3's safe mode refuses it itself
        ("outside-module", "keras", {"keras": "3.15.1"}, True),  # every release
        ("custom-object", "keras", {"keras": "3.8.0"}, True),
        ("custom-object", "keras", {"keras": "3.9.2"}, False),
        ("hdf5-link", "keras", {"keras": "3.12.4"}, False),  # between the two ranges of CVE-2026-1669/12480
        ("hdf5-link", "keras", {"keras": "3.13.2"}, True),  # CVE-2026-12480: >=3.13.0,<3.15.0
        ("hdf5-link", "keras", {"keras": "3.15.1"}, False),
        ("graph-op", "savedmodel", {"keras": "3.15.1"}, True),
        ("graph-op", "keras", {"keras": "3.15.1"}, False),  # a format the finding cannot sit in
    ],
)
def test_which_releases_act_on_a_finding(kind: str, fmt: str, release: dict[str, str], refused: bool) -> None:
    assert bool(advisories.covering(advisories.load(), kind, fmt, cell(**release))) is refused


BAD = {
    'id = "x"\naffected = {keras = "<3"}\nformats = ["zip"]\nfindings = ["pickle"]\neffect = "runs code"\n'
    'summary = "s"\nsource = "s"': "unknown format 'zip'",
    'id = "x"\naffected = {keras = "<3"}\nformats = ["h5"]\nfindings = ["magic"]\neffect = "runs code"\n'
    'summary = "s"\nsource = "s"': "unknown finding 'magic'",
    'id = "x"\naffected = {keras = "<<3"}\nformats = ["h5"]\nfindings = ["pickle"]\neffect = "runs code"\n'
    'summary = "s"\nsource = "s"': "version range '<<3'",
    'id = "x"\naffected = {keras = "<3"}\nformats = []\nfindings = []\neffect = "runs code"\n'
    'summary = "s"\nsource = "s"': "needs a note",
    'id = "x"\naffected = {keras = "<3"}\nformats = ["h5"]\nfindings = ["pickle"]\neffect = "runs code"\n'
    'summary = "s"\nsource = "s"\ncvss = 9': "unknown field(s) cvss",
    'id = "x"\nformats = ["h5"]': "missing field affected",
}


@pytest.mark.parametrize("body", list(BAD))
def test_a_bad_entry_is_one_line_naming_it(body: str, tmp_path: Path) -> None:
    path = tmp_path / "advisories.toml"
    path.write_text("[[entry]]\n" + body + "\n")
    with pytest.raises(UserError, match=r"advisories\.toml entry 1") as err:
        advisories.load(path)
    assert BAD[body] in str(err.value) and "\n" not in str(err.value)
