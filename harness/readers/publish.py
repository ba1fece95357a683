"""Render everything the report publishes from stored rows: report.md, one page per scenario and machine (each
kind's own section writes it), the machine pages, and results/summary.json (pandas, matplotlib; no framework)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import provenance
from harness.decl import handlers
from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers import bisects, report_md, sections, summary, zoo
from harness.readers.model import View, entries, machine_views
from harness.readers.pages import Pages, machine_page, sig_numbers
from harness.readers.sections import upgrade_paths
from harness.store import rowfiles


def views_of(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> dict[str, View]:
    """Each machine's view: its rows, the plain ones, the cells it shows, the grid of the kinds that have entries."""
    apart = {s.id for s in scens if sections.of(s).APART}
    out = {}
    for mid, mrows, shown in machine_views(rows, matrix):
        plain = [r for r in mrows if r["scenario"] not in apart]
        ran = {r["scenario"] for r in plain}
        grid = entries(plain, shown, [s for s in scens if s.id in ran and sections.of(s).GRID])
        out[mid] = View(mid, mrows, plain, shown, grid, ran, scens)
    return out


def write(
    rows: list[dict[str, Any]],
    matrix: Matrix,
    scens: list[Scenario],
    out: Path,
    plots: Path,
    records: list[dict[str, Any]] | None = None,
    command: str = "nox -s report",
    commit: str | None = None,
    summary_path: Path | None = None,
) -> dict[str, Any]:
    """Write report.md (answers first), its detail pages in `report/`, and summary.json beside the results."""
    records = records or []
    root = out.resolve().parent
    pages_dir = root / "report"
    pages_dir.mkdir(parents=True, exist_ok=True)
    for old in pages_dir.glob("*.md"):
        old.unlink()  # pages of machines or scenarios that no longer exist go
    data = summary.build(rows, matrix, scens, records, command, commit)
    index: list[tuple[str, str, Path]] = []  # (machine, title, page)
    views = views_of(rows, matrix, scens)
    for mid, view in views.items():
        pages = Pages(root, mid)
        sigs = sig_numbers(view.plain, view.shown)
        for scen in scens:
            text = sections.of(scen).page(view, scen, pages, plots, sigs)
            if text is None:
                continue
            page = pages.scenario(scen.id)
            page.write_text(text, encoding="utf-8")
            index.append((mid, scen.title + f" (`{scen.id}`)", page))
        upgrade = view.frames.get(handlers.UPGRADE.name)  # left by the upgrade-paths section
        if (
            upgrade is not None and upgrade["source"].str.startswith(upgrade_paths.ZOO).any()
        ):  # the zoo: a page of its own
            page = pages.scenario(zoo.ZOO_PAGE)
            zoo_scen = next((s for s in scens if s.id == zoo.ZOO_SCENARIO), None)
            static = view.frames[zoo.ZOO_SCENARIO + ":static"] = zoo.static_kinds(view.rows, view.shown, zoo_scen)
            page.write_text(zoo.page(upgrade[upgrade["source"].str.startswith(upgrade_paths.ZOO)], view.shown, mid,
                                     static), encoding="utf-8")  # fmt: skip
            index.append((mid, "Will this kind of file load there? (`zoo` across releases)", page))
        own = view.plain or view.rows  # a machine that measured only kinds kept apart is told by those rows
        pages.machine().write_text(
            machine_page(mid, own, view.shown, view.grid, sigs, view.rows, scens), encoding="utf-8"
        )
        index.append((mid, "Machine: cells, packages, causes, error signatures, skipped routes", pages.machine()))
    text = report_md.render(data, views, matrix, scens, records, index, root)
    out.write_text(text, encoding="utf-8")
    summary_path = summary_path or root / "results" / "summary.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(data, indent=None, separators=(",", ":"), ensure_ascii=False) + "\n",
                            encoding="utf-8")  # fmt: skip
    return data


def render(matrix: Matrix, scens: list[Scenario], results: Path, out: Path | None = None,
           plots: Path | None = None, bisect_dir: Path | None = None,
           command: str = "python -m harness report") -> str:  # fmt: skip
    """Write the report, its pages and summary.json from the stored rows; returns what was written."""
    rows = rowfiles.read_all(results)
    out = out or results.parent / "report.md"
    plots = plots or results / "plots"
    records = bisects.load(bisect_dir)
    summary = results / "summary.json"
    write(rows, matrix, scens, out, plots, records, command, provenance.commit(), summary)
    return f"wrote {out}, its pages in {out.parent / 'report'}, {summary} ({len(rows)} rows) and plots in {plots}"
