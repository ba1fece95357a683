"""Report rendering from stored rows: table, findings, signatures, repro commands, honesty marks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from harness import report  # noqa: E402
from harness.cells import Matrix  # noqa: E402
from harness.scenarios import Scenario  # noqa: E402


def render(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path) -> str:
    out = tmp_path / "report.md"
    report.write(rows, matrix, scens, out, tmp_path / "plots")
    return out.read_text()


def seed(scens: list[Scenario]) -> list[Scenario]:
    return [s for s in scens if s.id == "masking-lstm"]


def test_table_shows_outcome_or_failing_stage(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    grid = report.entries(stored_rows, matrix, scens)
    table = report.compat_table(grid, matrix, seed(scens))
    assert list(table.index) == sorted(table.index, key=lambda c: report.cell_order(matrix.get(c)))
    first = {r["case_id"]: r for r in stored_rows if r["cell_id"] == "tf2.12.1-keras2.12.0"}
    for case_id, row in first.items():
        entry = table.loc["tf2.12.1-keras2.12.0", f"masking-lstm/{case_id}"]
        expected = "ok" if row["outcome"] == "ok" else f"✗ {row['failed_stage']}"
        assert entry.text == expected
    assert table.loc["tf2.16.2-keras3.1.1", "masking-lstm/list:.keras"].text == "not run"


def test_stale_rows_are_not_claimed(stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> None:
    rows = [dict(r) for r in stored_rows]
    rows[0]["scenario_hash"] = "0ld0ld0ld0ld"
    grid = report.entries(rows, matrix, scens)
    assert grid[(rows[0]["cell_id"], f"masking-lstm/{rows[0]['case_id']}")].status == "stale"


def test_report_sections(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    text = render(stored_rows, matrix, scens, tmp_path)
    machine = stored_rows[0]["machine"]["id"]
    for heading in (
        "## Excluded cells",
        "### Findings",
        "### Compatibility table",
        "### Error signatures",
        "### Reproduce a red entry",
        f"## Machine `{machine}`",
    ):
        assert heading in text
    assert stored_rows[0]["invoked_by"] in text
    assert (tmp_path / "plots" / f"masking-lstm-{machine}.png").stat().st_size > 1000
    red = [r for r in stored_rows if r["outcome"] not in ("ok", "skip")]
    for r in red:
        assert report.repro_command(r["cell_id"], f"{r['scenario']}/{r['case_id']}") in text
    for e in matrix.excluded:
        assert e.reason in text


def test_findings_name_the_failing_stage(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    table = report.compat_table(report.entries(stored_rows, matrix, scens), matrix, seed(scens))
    lines = report.findings(table, matrix)
    build = [x for x in lines if x.startswith("`tensor-float64:.keras`")]
    assert build and "**fails** at `build` on TF 2.12.1" in build[0]


def test_signatures_group_across_cells(stored_rows: list[dict[str, Any]], matrix: Matrix) -> None:
    sigs = report.signatures(stored_rows, matrix)
    assert sigs["rows"].sum() == sum(1 for r in stored_rows if r["error_signature"])
    assert sigs["signature"].is_unique
    assert any(len(cells) > 1 for cells in sigs["cells"])


def test_rendering_is_deterministic(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    a = render(stored_rows, matrix, scens, tmp_path / "a")
    b = render(list(reversed(stored_rows)), matrix, scens, tmp_path / "b")
    assert a == b
    for png in sorted((tmp_path / "a" / "plots").iterdir()):
        assert png.read_bytes() == (tmp_path / "b" / "plots" / png.name).read_bytes()
