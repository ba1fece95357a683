"""The static site in a real headless browser (Debian's chromium through Playwright), opened from file://.

Built from the committed results/summary.json: the page loads with no network request, the matrix filters,
the upgrade lookup's sentence has the summary's numbers, the latency charts draw; a screenshot is kept.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = Path(os.environ.get("MASKCOMPAT_RESULTS", ROOT / "results")) / "summary.json"
CHROMIUM = Path("/usr/bin/chromium")
UNSAVED = ("not saved", "file missing")


def lacking() -> str | None:
    """Why the browser tests cannot run here (chromium, playwright or the summary missing), or None."""
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -r requirements/tests.txt)"
    if not SUMMARY.is_file():
        return f"{SUMMARY} is missing (`nox -s report` writes it)"
    return None


def test_the_browser_and_the_summary_are_there() -> None:
    """Under CI a missing prerequisite fails here, in one line; elsewhere it skips (the tests below skip anyway)."""
    reason = lacking()
    if reason and os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    if reason:
        pytest.skip(reason)


def artifact(name: str) -> Path:
    """Where a test keeps a file for people to look at: $MASKCOMPAT_ARTIFACTS, else .pytest-artifacts/."""
    folder = Path(os.environ.get("MASKCOMPAT_ARTIFACTS") or ROOT / ".pytest-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    reason = lacking()
    if reason:
        pytest.skip(reason)
    data: dict[str, Any] = json.loads(SUMMARY.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def built(summary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `python -m harness site` builds it from the committed summary."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "site", "--summary", str(SUMMARY), "--out", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out / "index.html"


@pytest.fixture(scope="module")
def page(built: Path) -> Iterator[Any]:
    """The site's page in headless chromium, every request and page error recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # --no-sandbox: chromium refuses its sandbox as root, which CI and these machines are.
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(300_000)  # a guard against a hung page only: a slow machine must not fail a test
        pg.requests, pg.errors = [], []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
        pg.goto(built.as_uri())
        pg.wait_for_selector("body[data-ready='1']")
        yield pg
        browser.close()


def rows(page: Any) -> list[str]:
    """The cell ids of the matrix's rows as shown."""
    return [str(x) for x in page.eval_on_selector_all("#matrix-table tr.cell-row", "rs => rs.map(r => r.dataset.cell)")]


def test_the_page_loads_offline_with_its_matrix(page: Any, summary: dict[str, Any]) -> None:
    assert "maskcompat" in page.title()
    assert "which TensorFlow/Keras releases" in page.locator("h1").inner_text()
    assert not page.errors
    assert all(u.startswith("file://") for u in page.requests), [u for u in page.requests if not u.startswith("file:")]
    shown = rows(page)
    assert shown and all(c in summary["cells"] for c in shown)
    orders = [summary["cells"][c]["order"] for c in shown]
    assert orders == sorted(orders)  # version order
    assert page.locator("#matrix-table td.v").count() > len(shown)
    first = page.locator("#matrix-table td.v[data-case]").first
    assert "reproduce: " in (first.get_attribute("title") or "")
    first.click()
    assert "measured at" in page.locator("#detail").inner_text()


def test_a_family_or_a_version_filter_leaves_fewer_rows_all_matching(page: Any, summary: dict[str, Any]) -> None:
    everything = rows(page)
    cells = summary["cells"]
    family = "Keras 2 (tf.keras)" if any(c["family"] == "Keras 2 (tf.keras)" for c in cells.values()) else None
    family = family or cells[everything[0]]["family"]
    page.select_option("#f-family", family)
    some = rows(page)
    assert 0 < len(some) < len(everything)
    assert some == [c for c in everything if cells[c]["family"] == family]
    page.select_option("#f-family", "")
    version = "2.16"
    page.fill("#f-version", version)

    def matches(c: str) -> bool:
        cell = cells[c]
        return version in " ".join(str(x) for x in (c, *cell.values()) if x is not None)

    some = rows(page)
    assert 0 < len(some) < len(everything)
    assert some == [c for c in everything if matches(c)]
    page.fill("#f-version", "")
    assert rows(page) == everything


def test_the_matrix_turns_to_cases_as_rows(page: Any) -> None:
    columns = page.locator("#matrix-table thead th.col").count()
    cells = len(rows(page))
    page.check("#f-transpose")
    assert page.locator("#matrix-table tr.case-row").count() == columns
    assert page.locator("#matrix-table thead th.col").count() == cells
    page.uncheck("#f-transpose")


def interesting_pair(summary: dict[str, Any]) -> dict[str, Any]:
    """A pair whose answer has most to say: several kinds of failure besides `ok`."""
    pairs = summary["upgrade"]["pairs"]
    assert pairs, "the summary has no upgrade pairs"
    return max(pairs, key=lambda p: (len(set(p["entries"]) - {"ok", *UNSAVED}), "ok" in p["entries"]))


def test_the_upgrade_lookup_answers_with_the_summary_s_numbers(page: Any, summary: dict[str, Any]) -> None:
    pair = interesting_pair(summary)
    if page.locator("#u-machine-label").is_visible():
        page.select_option("#u-machine", pair["machine"])
    page.select_option("#u-saved", pair["saved_by"])
    page.select_option("#u-loaded", pair["loaded_by"])
    entries: dict[str, list[int]] = pair["entries"]
    files = sum(len(v) for k, v in entries.items() if k not in UNSAVED)
    ok = len(entries.get("ok", []))
    saved, loaded = (summary["cells"][pair[k]]["label"] for k in ("saved_by", "loaded_by"))
    answer = page.locator("#u-answer").inner_text()
    assert answer.startswith(f"Of {files} files saved by {saved}"), answer
    same = f"loads and predicts the same for {'all ' if ok == files > 1 else ''}{ok}"
    assert f", {loaded}" in answer and same in answer, answer
    for text, idx in entries.items():
        if text.startswith("✗ "):
            assert f"{len(idx)} fail{'s' if len(idx) == 1 else ''} at {text[2:]}" in answer, answer
    groups = dict(
        page.eval_on_selector_all(
            "#u-groups .group", "gs => gs.map(g => [g.dataset.entry, g.querySelectorAll('li').length])"
        )
    )
    assert groups == {k: len(v) for k, v in entries.items()}  # what fails, what was not saved, and what loads
    listed = page.eval_on_selector_all("#u-groups .group li", "ls => ls.map(l => l.dataset.source)")
    assert sorted(listed) == sorted(summary["upgrade"]["sources"][i] for v in entries.values() for i in v)


def test_the_lookup_finds_a_pair_s_files_by_layer_name(page: Any, summary: dict[str, Any]) -> None:
    """Typing a layer class leaves only the files whose kind names it; clearing it brings every file back."""
    kinds = summary["upgrade"]["kinds"]
    if not any("Conv2D" in k for k in kinds):
        pytest.skip("this summary has no zoo files")
    page.fill("#u-filter", "conv2d")
    listed = page.eval_on_selector_all("#u-groups li", "ls => ls.map(l => l.dataset.source)")
    sources = summary["upgrade"]["sources"]
    assert listed and all("Conv2D" in kinds[sources.index(s)] for s in listed), listed
    page.fill("#u-filter", "")
    assert page.eval_on_selector_all("#u-groups li", "ls => ls.length") > len(listed)


def test_the_lookup_gives_what_works_what_fails_with_its_cause_and_the_fix(page: Any, summary: dict[str, Any]) -> None:
    """A Keras 2 -> Keras 3 pair: the files grouped by entry in readable kinds, each failing group with its cause's
    sentence, and each file a measured route carries with that route and its command for the loading release."""
    cells = summary["cells"]
    pairs = [p for p in summary["upgrade"]["pairs"] if cells[p["saved_by"]]["keras_flavor"] == "keras2"
             and cells[p["loaded_by"]]["keras_flavor"] == "keras3" and "shim" in p["fix"].values()]  # fmt: skip
    assert pairs, "no Keras 2 -> Keras 3 pair has a file the shim route carries"
    pair = max(pairs, key=lambda p: (len(p["fix"]), p["saved_by"], p["loaded_by"]))
    if page.locator("#u-machine-label").is_visible():
        page.select_option("#u-machine", pair["machine"])
    page.select_option("#u-saved", pair["saved_by"])
    page.select_option("#u-loaded", pair["loaded_by"])
    entries = pair["entries"]
    files = sum(len(v) for k, v in entries.items() if k not in UNSAVED)
    failing = files - len(entries.get("ok", []))
    answer = page.locator("#u-answer").inner_text()
    assert f"A measured fix carries {len(pair['fix'])} of the {failing} that do not." in answer, answer
    items = page.eval_on_selector_all(
        "#u-groups li", "ls => ls.map(l => [l.dataset.source, l.dataset.fix || null, l.textContent])"
    )
    sources = summary["upgrade"]["sources"]
    kinds = summary["upgrade"]["kinds"]
    fixes = {sources[int(i)]: route for i, route in pair["fix"].items()}
    for source, fix, text in items:
        assert fix == fixes.get(source), (source, fix)
        assert text.startswith(kinds[sources.index(source)].replace("`", "")), text  # the kind in a user's words
        if fix == "shim":
            assert f"nox -s repair -- --for {pair['loaded_by']} IN OUT" in text, text
    why = dict(page.eval_on_selector_all(
        "#u-groups .group", "gs => gs.map(g => [g.dataset.entry, (g.querySelector('.why') || {}).textContent])"
    ))  # fmt: skip
    for text in entries:
        if " · " in text and text.split(" · ")[1] in summary["cause_catalog"]:
            assert why[text] == summary["cause_catalog"][text.split(" · ")[1]]["sentence"], text


def test_the_latency_charts_draw_each_figure(page: Any, summary: dict[str, Any]) -> None:
    case = page.eval_on_selector("#l-case", "s => s.value")
    assert case == "latency/lstm:masked:predict_on_batch"
    figures = [r for r in summary["latency"] if r["case"] == case and r["ms"] is not None]
    assert page.locator("#latency-charts svg circle.dot").count() == len(figures)
    backends = {summary["cells"][r["cell_id"]]["backend"] for r in figures}
    shown = set(page.eval_on_selector_all("#latency-charts figure", "fs => fs.map(f => f.dataset.backend)"))
    assert shown == backends
    unstable = sum(1 for r in figures if r["unstable"])
    assert page.locator("#latency-charts svg circle.dot.unstable").count() == unstable


def test_without_data_js_the_page_says_how_to_build_it(page: Any, built: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("index.html", "site.css", "site.js"):
        (bare / name).write_bytes((built.parent / name).read_bytes())
    other = page.context.browser.new_page()
    other.goto((bare / "index.html").as_uri())
    assert "nox -s site" in other.locator("#no-data").inner_text()
    assert other.locator("#no-data").is_visible()
    other.close()


def test_a_screenshot_is_kept(page: Any) -> None:
    """Last in the file (pytest keeps file order): it shows the state the tests above left, an upgrade answer chosen."""
    path = artifact("site.png")
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    print(f"screenshot: {path}")


def test_the_kinds_view_is_one_row_per_kind_and_every_entry_is_the_pair_s(page: Any, summary: dict[str, Any]) -> None:
    """The caniuse view: for the newest Keras 2's `.keras` files, one row per zoo kind; every entry, in every merged
    column of loaders, is the entry of that kind's file for each loader it stands for; a layer name filters rows."""
    sources = summary["upgrade"]["sources"]
    zoo = [s for s in sources if s.startswith("zoo/") and s.split(":")[1] == ".keras"]
    if not zoo:
        pytest.skip("this summary has no zoo files")
    page.select_option("#k-format", ".keras")
    saved = page.eval_on_selector("#k-saved", "s => s.value")
    assert summary["cells"][saved]["keras_flavor"] == "keras2"
    rows = page.eval_on_selector_all("#k-table tbody tr", "rs => rs.map(r => r.dataset.source)")
    assert sorted(rows) == sorted(zoo)
    machine = page.evaluate("window.maskcompat.zooMachine()")
    by_loader = {p["loaded_by"]: p["entries"] for p in summary["upgrade"]["pairs"]
                 if p["machine"] == machine and p["saved_by"] == saved}  # fmt: skip
    cols = page.evaluate(f"window.maskcompat.kindsTable({json.dumps(machine)}, {json.dumps(saved)}, '.keras', '')")
    assert sum(len(c["ids"]) for c in cols["cols"]) == len(by_loader)
    for col in cols["cols"]:
        for (source, _), text in zip(cols["rows"], col["vector"], strict=True):
            for loader in col["ids"]:
                want = next((t for t, idx in by_loader[loader].items() if sources.index(source) in idx), "—")
                assert text == want, (source, loader, text, want)
    shown = page.eval_on_selector_all("#k-table tbody td", "ts => ts.map(t => t.dataset.entry)")
    assert len(shown) == len(zoo) * len(cols["cols"])
    page.fill("#k-filter", "conv2d")
    assert page.eval_on_selector_all("#k-table tbody tr", "rs => rs.map(r => r.dataset.source)") == ["zoo/cnn:.keras"]


def test_the_cost_curves_draw_each_model_s_points_of_the_sweep(page: Any, summary: dict[str, Any]) -> None:
    """The sweep's curve view: for the first place and LSTM, against padding, one series per model with every point
    of the summary, and the answer's ratio is the masked over the real-work milliseconds at 50% padding."""
    points = summary.get("sweep") or []
    if not points:
        pytest.skip("this summary has no sweep points")
    where = page.eval_on_selector("#c-where", "s => s.value")
    machine, device, cell = where.split("\u0000")
    page.select_option("#c-rnn", "lstm")
    page.select_option("#c-axis", "pad")
    mine = [p for p in points if (p["machine"], p["device"], p["cell_id"], p["rnn"]) == (machine, device, cell, "lstm")
            and (p["timesteps"], p["batch"], p["units"]) == (512, 32, 64) and p["ms"] is not None]  # fmt: skip
    drawn = dict(page.eval_on_selector_all("#c-chart g.series", "gs => gs.map(g => [g.dataset.model, "
                                           "g.querySelectorAll('circle').length])"))  # fmt: skip
    assert drawn == {m: sum(1 for p in mine if p["model"] == m) for m in {p["model"] for p in mine}}
    half = {p["model"]: p["ms"] for p in mine if p["pad"] == 0.5}
    ratio = float(page.eval_on_selector("#c-answer", "b => b.dataset.ratio"))
    assert ratio == pytest.approx(half["masked"] / half["real-work"], rel=1e-9)
    page.select_option("#c-axis", "timesteps")
    assert page.eval_on_selector_all("#c-chart g.series circle", "cs => cs.length") > 0
