"""Every count a sentence of the committed report.md states equals the count taken from results/summary.json, by an
implementation of the kinds of upgrade written here, apart from the readers'."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.readers.sections.upgrade_paths import ROUTE_FILES

ROOT = Path(__file__).resolve().parent.parent
REPORT = (ROOT / "report.md").read_text(encoding="utf-8")
SUMMARY: dict[str, Any] = json.loads((ROOT / "results" / "summary.json").read_text(encoding="utf-8"))
PRIMARY = re.search(r"From the rows of `([^`]+)`", REPORT).group(1)  # type: ignore[union-attr]


def kind(saver: dict[str, Any], loader: dict[str, Any]) -> str | None:
    """The glossary's kinds of upgrade, from the summary's cells."""
    old_s, old_l = saver["keras_flavor"] != "keras3", loader["keras_flavor"] != "keras3"
    if old_s:
        return None if old_l else "Keras 2 → Keras 3"
    if old_l:
        return "Keras 3 → Keras 2"
    vs, vl = (tuple(int(p) for p in c["keras"].split(".")) for c in (saver, loader))
    return "Keras 3 → newer Keras 3" if vl > vs else "Keras 3 → older Keras 3" if vl < vs else "Keras 3 → same Keras 3"


def tally(files: tuple[str, ...], want: str | None) -> tuple[int, int]:
    """(ok, saved files) over the primary machine's pairs of different cells of that kind (None: every pair of
    different cells, whatever its kind)."""
    sources = SUMMARY["upgrade"]["sources"]
    cells = SUMMARY["cells"]
    ok = n = 0
    for pair in SUMMARY["upgrade"]["pairs"]:
        if pair["machine"] != PRIMARY or pair["saved_by"] == pair["loaded_by"]:
            continue
        if want is not None and kind(cells[pair["saved_by"]], cells[pair["loaded_by"]]) != want:
            continue
        for text, idx in [*pair["entries"].items(), *pair.get("shim", {}).items()]:  # `shim/...`: the shim route
            hits = sum(1 for i in idx if sources[i] in files)
            if text != "not saved":
                n += hits
                ok += hits if text == "ok" else 0
    return ok, n


def test_the_route_sentences_count_what_the_summary_holds() -> None:
    for want in ("Keras 2 → Keras 3", "Keras 3 → newer Keras 3"):
        line = next(x for x in REPORT.splitlines() if x.startswith(f"- {want}, a tensor mask"))
        stated = dict(re.findall(r"`([^`]+)` (\d+/\d+)", line.split("per route:")[1]))
        assert stated, line
        for route, count in stated.items():
            assert count == "{}/{}".format(*tally(ROUTE_FILES[route], want)), (want, route)


def test_the_route_table_counts_what_the_summary_holds() -> None:
    rows = [x for x in REPORT.splitlines() if x.startswith("| ") and x.split("|")[1].strip() in ROUTE_FILES]
    assert len(rows) >= 5
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        route, ok, pairs, k2, newer, older = cells[:6]
        assert (int(ok), int(pairs)) == tally(ROUTE_FILES[route], None)
        for stated, want in ((k2, "Keras 2 → Keras 3"), (newer, "Keras 3 → newer Keras 3"),
                             (older, "Keras 3 → older Keras 3")):  # fmt: skip
            ok_n = tally(ROUTE_FILES[route], want)
            assert stated == ("{}/{}".format(*ok_n) if ok_n[1] else "—"), (route, want)


def test_the_list_mask_and_the_causes_sentences_count_what_the_summary_holds() -> None:
    for fmt in (".keras", ".h5"):
        line = next(x for x in REPORT.splitlines() if f"carry a Keras 2 `{fmt}` file into Keras 3" in x)
        ok, n = (int(v) for v in re.search(r": (\d+) of (\d+) \(", line).groups())  # type: ignore[union-attr]
        assert (ok, n) == tally((f"masking-lstm/list:{fmt}",), "Keras 2 → Keras 3")
        shimmed = re.search(r"shim route \(`repair --for`\), (\d+) of (\d+) do", line)
        assert shimmed, line
        assert tuple(int(v) for v in shimmed.groups()) == tally((f"shim/masking-lstm/list:{fmt}",), "Keras 2 → Keras 3")
    line = next(x for x in REPORT.splitlines() if "failing rows of" in x)
    known, total = (int(v) for v in re.match(r"(\d+) of (\d+) failing rows", line).groups())  # type: ignore[union-attr]
    mine = next(c for c in SUMMARY["causes"] if c["machine"] == PRIMARY)
    assert (known, total) == (mine["explained_rows"], mine["failing_rows"])
    assert sum(mine["by_cause"].values()) == total


def test_the_shim_sentences_count_what_the_summary_holds() -> None:
    line = next(x for x in REPORT.splitlines() if "The shim route (`nox -s repair -- --for RELEASE IN OUT`" in x)
    tried, ok = (int(v) for v in re.search(r"tried on all (\d+) failing .* entries: (\d+) load", line).groups())  # type: ignore[union-attr]
    mine = [t for t in SUMMARY["upgrade"]["shim_tries"] if t["machine"] == PRIMARY]
    assert (tried, ok) == (sum(t["tried"] for t in mine), sum(t["ok"] for t in mine))
    for n, cause in re.findall(r"(\d+) `([a-z0-9-]+)`", line.split("the same — ")[1]):
        assert int(n) == next(t["ok"] for t in mine if t["cause"] == cause), cause
    k2 = next(x for x in REPORT.splitlines() if "What the shim route changes" in x)
    stated = dict(re.findall(r"`([^`]+)` (\d+/\d+)", k2.split("What the shim route changes")[1]))
    assert stated
    for src, count in stated.items():
        assert count == "{}/{}".format(*tally(("shim/" + src,), "Keras 2 → Keras 3")), src
