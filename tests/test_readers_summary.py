"""results/summary.json: valid against its schema, built from the rows, and what report.md answers from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pandas")
jsonschema = pytest.importorskip("jsonschema")

from harness.decl.cells import Cell, Matrix  # noqa: E402
from harness.decl.scenarios import Scenario  # noqa: E402
from harness.readers import bisects, model, summary  # noqa: E402
from harness.store import rowfiles  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "results" / "summary.schema.json").read_text())


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def test_the_committed_summary_validates_and_matches_the_committed_rows(matrix: Matrix, scens: list[Scenario]) -> None:
    committed = json.loads((ROOT / "results" / "summary.json").read_text())
    validate(committed)
    rows = rowfiles.read_all(ROOT / "results")
    records = bisects.load(ROOT / "experiments" / "bisect")
    built = summary.build(rows, matrix, scens, records, committed["generated"]["command"],
                          committed["generated"]["commit"])  # fmt: skip
    assert built == committed  # regenerated from the same rows: nothing in it is written by hand


def test_a_summary_of_stored_rows_validates_and_keeps_every_entry(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    data = summary.build(stored_rows, matrix, scens, [], "test", None)
    validate(data)
    got = {(v["cell_id"], v["case"]): v for v in data["verdicts"]}
    for r in stored_rows:
        v = got[(r["cell_id"], f"{r['scenario']}/{r['case_id']}")]
        assert (v["outcome"], v["failed_stage"]) == (r["outcome"], r["failed_stage"])
        assert v["packages"] == r["packages"] and v["measured_at"] == r["started_at"]
    broken = dict(data, schema_version=2)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def _cells(n: int) -> list[Cell]:
    return [Cell(id=f"tf2.16.2-keras3.{i}.0", python="3.11", tensorflow="2.16.2", keras=f"3.{i}.0", tf_keras=None,
                 backend="tensorflow") for i in range(n)]  # fmt: skip


@pytest.mark.parametrize(
    ("statuses", "verdict", "bad", "good"),
    [
        (["ok", "ok"], "ok everywhere", None, None),
        (["fail", "mismatch"], "fails everywhere", 0, None),
        (["fail", "fail", "ok", "ok"], "fixed", 0, 2),
        (["ok", "skip", "fail"], "broken", 2, None),
        (["fail", "ok", "fail"], "mixed", 0, None),
        (["skip", "not run"], "not measured", None, None),
    ],
)
def test_a_familys_transition_is_read_in_version_order(
    statuses: list[str], verdict: str, bad: int | None, good: int | None
) -> None:
    cells = _cells(len(statuses))
    got = summary.transition(list(zip(statuses, cells, strict=True)))
    assert got["verdict"] == verdict
    assert got["first_bad"] == (model.version_label(cells[bad]) if bad is not None else None)
    assert got["first_good"] == (model.version_label(cells[good]) if good is not None else None)


def test_the_seed_case_is_fixed_in_the_bisected_release() -> None:
    data = json.loads((ROOT / "results" / "summary.json").read_text())
    seed = [
        t
        for t in data["transitions"]
        if t["case"] == "masking-lstm/tensor-float64:.keras" and t["family"] == "Keras 3, tensorflow backend"
    ]
    assert seed and all(t["verdict"] == "fixed" and t["fixed_in"] == "3.9.0" for t in seed)
    assert seed[0]["first_good"].startswith("Keras 3.9")


def test_report_md_answers_first_within_its_size_and_every_link_resolves() -> None:
    text = (ROOT / "report.md").read_text(encoding="utf-8")
    assert len(text.encode()) <= 60_000
    assert next(line for line in text.splitlines() if line.startswith("## ")) == "## Answers"
    assert "first fixed in keras 3.9.0" in text and "3.14.1 → 3.15.0" in text
    for page in [ROOT / "report.md", *sorted((ROOT / "report").glob("*.md"))]:
        body = page.read_text(encoding="utf-8")
        assert len(body.encode()) < 400_000, page.name
        anchors = set(re.findall(r'id="([^"]+)"', body))
        for target in re.findall(r"\]\(([^)\s]+)\)", body):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{page.name}: {target}"
            if anchor and dest.suffix == ".md" and not anchor.startswith("user-content"):
                dest_anchors = anchors if dest == page else set(re.findall(r'id="([^"]+)"', dest.read_text()))
                headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", dest.read_text(), re.M)}
                assert anchor in dest_anchors | headings, f"{page.name}: {target}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_sweep_s_answer_is_on_the_first_screen() -> None:
    """Where the committed summary has sweep points, report.md's first screen says what masking and padding cost."""
    data = json.loads((ROOT / "results" / "summary.json").read_text())
    if not data.get("sweep"):
        pytest.skip("no sweep points committed")
    first = (ROOT / "report.md").read_text(encoding="utf-8").splitlines()[:12]
    line = next((x for x in first if x.startswith("**Masked inference, in short:**")), "")
    assert "the time of the real work" in line and "sorting by length would save" in line, first
