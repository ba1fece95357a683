"""Every repository path and harness module that the code, the README, the scenario and cells files, the advisory
catalog, the experiments' notes and the published pages name exists (a rename leaves no stale reference)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("harness", "tests", "scenarios", "cells", "experiments", "scripts", "results", "report", "security", "tools",
       "requirements", ".ci", ".github")  # fmt: skip
PATH = re.compile(r"(?<![\w/.-])((?:" + "|".join(re.escape(t) for t in TOP) + r")/[^\s`'\"()\[\],;:|]*)")
MODULE = re.compile(r"(?<![\w./-])(harness(?:\.[a-z_]\w*)+)")
PLACEHOLDER = re.compile(r"[*<>{}]|\.\.\.|…")
HISTORY = re.compile(r"git (?:archive|show) [0-9a-f]{7,40}[ :]$")  # a path as it was at a commit, not today


def sources() -> list[Path]:
    """The texts that name repository paths: code and tests, the README, declarations, notes, published pages."""
    found = [*ROOT.joinpath("harness").rglob("*.py"), *ROOT.joinpath("tests").glob("*.py"), ROOT / "noxfile.py",
             ROOT / "README.md", ROOT / "report.md", *ROOT.joinpath("report").glob("*.md"),
             *ROOT.joinpath("scenarios").glob("*.toml"), *ROOT.joinpath("cells").glob("*.toml"),
             *ROOT.joinpath("security").glob("*.toml"), *ROOT.joinpath("experiments").rglob("README.md")]  # fmt: skip
    return sorted(p for p in found if p.is_file() and p != Path(__file__).resolve())


def module_exists(name: str) -> bool:
    """A module, a package, or a name defined in one (`harness.decl.handlers.CASES`, `harness.__version__`)."""
    parts = name.split(".")
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
        return True
    owner = ROOT.joinpath(*parts[:-1])
    source = owner.with_suffix(".py") if owner.with_suffix(".py").exists() else owner / "__init__.py"
    return (
        source.exists() and re.search(rf"^(def |class )?{re.escape(parts[-1])}\b", source.read_text(), re.M) is not None
    )


def stale(text: str) -> list[str]:
    """The paths and modules a text names that do not exist."""
    out = []
    for m in PATH.finditer(text):
        ref = m.group(1).split("#")[0].rstrip(".")  # a link's anchor is not part of the path
        if HISTORY.search(text[max(0, m.start() - 60) : m.start()]):
            continue
        if not PLACEHOLDER.search(ref) and not (ROOT / ref).exists():
            out.append(ref)
    out += [m.group(1).rstrip(".") for m in MODULE.finditer(text) if not module_exists(m.group(1).rstrip("."))]
    return out


def test_every_named_path_and_module_exists() -> None:
    missing = {str(p.relative_to(ROOT)): refs for p in sources() if (refs := stale(p.read_text(errors="replace")))}
    assert missing == {}


def test_stale_references_are_found() -> None:
    text = (
        "see harness/refloop.py, `harness.refloop`, tests/test_gone.py; fine: harness/child/refloop.py, *.toml, "
        "git archive 8b0606c results/gone-machine"
    )
    assert stale(text) == ["harness/refloop.py", "tests/test_gone.py", "harness.refloop"]
