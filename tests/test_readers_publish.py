"""Report rendering from stored rows: tables, findings, the fix summary, signatures, repro commands, honesty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from harness.decl import causes  # noqa: E402
from harness.decl.cells import Matrix  # noqa: E402
from harness.decl.scenarios import Scenario  # noqa: E402
from harness.readers import model, publish  # noqa: E402
from harness.readers import pages as page_parts  # noqa: E402
from harness.readers.sections import cases  # noqa: E402


def render(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path) -> str:
    out = tmp_path / "report.md"
    publish.write(rows, matrix, scens, out, tmp_path / "plots", summary_path=tmp_path / "summary.json")
    return out.read_text()


def pages(tmp_path: Path) -> dict[str, str]:
    """The detail pages `render` wrote, by file name."""
    return {p.name: p.read_text() for p in sorted((tmp_path / "report").glob("*.md"))}


@pytest.fixture()
def matrix(matrix: Matrix) -> Matrix:
    """The default cells, as the report shows them on a machine that ran no GPU cell."""
    return Matrix(tuple(c for c in matrix.cells if c.default), matrix.excluded)


def only(scens: list[Scenario], scenario_id: str) -> list[Scenario]:
    return [s for s in scens if s.id == scenario_id]


def test_table_shows_outcome_or_failing_stage(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    grid = model.entries(stored_rows, matrix, scens)
    table = cases.compat_table(grid, matrix, only(scens, "masking-lstm"))
    assert list(table.index) == sorted(table.index, key=lambda c: model.cell_order(matrix.get(c)))
    seed_rows = [r for r in stored_rows if r["scenario"] == "masking-lstm"]
    for row in seed_rows:
        entry = table.loc[row["cell_id"], f"masking-lstm/{row['case_id']}"]
        cause = causes.classify(row, causes.load())
        expected = "ok" if row["outcome"] == "ok" else f"{model.MARKS[row['outcome']]} {row['failed_stage']} · {cause}"
        assert entry.text == expected and cause != causes.UNEXPLAINED
    assert table.loc["tf2.17.1-keras3.2.1", "masking-lstm/list:.keras"].text == "not run"


def test_subset_scenarios_list_only_their_cells(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    grid = model.entries(stored_rows, matrix, scens)
    breadth = only(scens, "rnn-breadth")[0]
    table = cases.compat_table(grid, matrix, [breadth])
    assert set(table.index) == {c.id for c in matrix.cells if breadth.applies_to(c.id, c.tags)}


def test_stale_rows_are_not_claimed(stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> None:
    rows = [dict(r) for r in stored_rows]
    rows[0]["scenario_hash"] = "0ld0ld0ld0ld"
    grid = model.entries(rows, matrix, scens)
    assert grid[(rows[0]["cell_id"], f"{rows[0]['scenario']}/{rows[0]['case_id']}")].status == "stale"


def test_report_answers_first_and_pages_hold_the_evidence(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    text = render(stored_rows, matrix, scens, tmp_path)
    machine = stored_rows[0]["machine"]["id"]
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[0] == "## Answers" and "## Glossary" in heads
    for q in ("### 1. ", "### 2. ", "### 3. ", "### 4. "):
        assert q in text
    for e in matrix.excluded:
        assert e.reason in text
    got = pages(tmp_path)
    machine_page = got[f"machine-{machine}.md"]
    assert "## Error signatures" in machine_page and "## Skipped: routes that do not exist in a cell" in machine_page
    assert "## Why rows fail: causes" in machine_page and "## Why entries fail" in text
    assert stored_rows[0]["invoked_by"] in machine_page
    assert (tmp_path / "plots" / f"masking-lstm-{machine}.png").stat().st_size > 1000
    for r in stored_rows:  # every entry, not only the red ones, has a command that pins the recorded packages
        key = f"{r['scenario']}/{r['case_id']}"
        command = model.reproduce(r["cell_id"], key, r)
        assert all(f"{k}=={v}" in command for k, v in r["packages"].items())
        assert command in got[f"{r['scenario']}-{machine}.md"], command
    sigs = page_parts.sig_numbers(stored_rows, matrix)
    for r in stored_rows:  # a failing entry names its cause and links to it (an unexplained one: its signature)
        if r["outcome"] in ("fail", "mismatch"):
            cause = causes.classify(r, causes.load())
            anchor = f"cause-{cause}" if cause != causes.UNEXPLAINED else f"sig-{sigs[r['error_signature']]}"
            assert f"· {cause}](machine-{machine}.md#{anchor})" in got[f"{r['scenario']}-{machine}.md"]
            assert f'id="{anchor}"' in machine_page


def test_findings_name_the_failing_stage(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    table = cases.compat_table(model.entries(stored_rows, matrix, scens), matrix, only(scens, "masking-lstm"))
    lines = cases.findings(table, matrix)
    tensor = next(x for x in lines if x.startswith("`tensor-float64:.keras`"))
    assert "Keras 2 (tf.keras): **fails** at `build`" in tensor
    assert "**fails** at `predict_after_load` (tagged-value-reaches-op) on Keras 3.1.1 + TF 2.16.2" in tensor


def test_fix_summary_says_where_each_route_holds(
    stored_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    table = cases.compat_table(model.entries(stored_rows, matrix, scens), matrix, only(scens, "workarounds"))
    summary = cases.summary_table(table, matrix)
    assert "custom-layer:tensor-float64:.keras" in summary.index
    assert summary.loc["savedmodel:tensor-float64:savedmodel", "Keras 3, jax backend"] == "skip (all 1)"


def test_signatures_group_across_cells(stored_rows: list[dict[str, Any]], matrix: Matrix) -> None:
    sigs = page_parts.signatures(stored_rows, matrix)
    failing = [r for r in stored_rows if r["error_signature"] and r["outcome"] != "skip"]
    assert sigs["rows"].sum() == len(failing)
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


def test_cross_load_rows_get_square_tables_and_one_rerun_command(
    matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    from harness.store import fresh, rowfiles

    scen = next(s for s in scens if s.handler == "crossload")
    cells = {c.id: c for c in matrix.cells}
    committed = Path(__file__).resolve().parent.parent / "results"
    rows = [
        r
        for r in rowfiles.read_all(committed)
        if r["scenario"] == scen.id and fresh.current(r, cells[r["cell_id"]], scen, cells.get(r["params"]["saved_by"]))
    ]
    assert len(rows) == len(scen.cases()) * len(scen.cells)  # the committed run: every loader x case
    render(rows, matrix, [scen], tmp_path)
    got = pages(tmp_path)
    text = got[f"cross-load-{rows[0]['machine']['id']}.md"]
    assert text.count("| saved by ↓, loaded by →") == 4  # one table per format x mask value
    assert "`nox -s crossload -- --fresh`" in text and '--case "cross-load/' not in text
    assert "## Skipped" not in got[f"machine-{rows[0]['machine']['id']}.md"]  # unsaved files are in the tables


def test_a_gpu_machine_shows_its_own_cells_and_only_what_it_ran(scens: list[Scenario], tmp_path: Path) -> None:
    from harness.decl import cells
    from harness.store import rowfiles

    root = Path(__file__).resolve().parent.parent
    full = cells.load(root / "cells" / "cells.toml")
    rows = [r for r in rowfiles.read_all(root / "results") if str(r.get("device", "")).startswith("gpu")]
    assert rows, "the committed results hold the GPU run"
    render(rows, full, scens, tmp_path)
    machine = rows[0]["machine"]["id"]
    got = pages(tmp_path)
    ran = {r["scenario"] for r in rows}
    for scen in scens:
        assert (f"{scen.id}-{machine}.md" in got) == (scen.id in ran), scen.id
    gpu_cells = [c.id for c in full.cells if "gpu" in c.tags]
    assert all(f'id="cell-{c}"' in got[f"machine-{machine}.md"] for c in gpu_cells)
