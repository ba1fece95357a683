"""Bisect: which releases are probed, reuse of stored rows, a real install for a release no cell has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import small_scenario, stored_results

from harness.decl import cells
from harness.tools import bisect as bisection
from harness.tools import bisect_latency

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SEED = "masking-lstm/tensor-float64:.keras"


def bisect_cli(*args: str, store: Path, out: Path, envs: Path | None = None) -> subprocess.CompletedProcess[str]:
    results = stored_results(store.parent)
    argv = [sys.executable, "-m", "harness", "bisect", *args, "--store", str(store), "--out", str(out),
            "--results", str(results)]  # fmt: skip
    env = {**ENV, "MASKCOMPAT_ENVS": str(envs)} if envs else ENV
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_probe_cells_reuse_matrix_cells_with_the_same_pins(matrix: cells.Matrix) -> None:
    base = matrix.get("tf2.19.1-keras3.8.0")
    assert bisection.probe_cell(base, "keras", "3.6.0", matrix).id == "tf2.19.1-keras3.6.0"
    new = bisection.probe_cell(base, "keras", "3.9.0", matrix)
    assert new.id == "bisect-py3.11-tf2.19.1-keras3.9.0" and new.pins[:2] == ["tensorflow-cpu==2.19.1", "keras==3.9.0"]
    assert bisection.probe_cell(base, "tensorflow", "2.21.0", matrix).tensorflow == "2.21.0"


def test_candidates_are_final_in_range_and_allowed(matrix: cells.Matrix) -> None:
    base = matrix.get("tf2.19.1-keras3.8.0")
    rules = bisection.rules_of(ROOT / "cells" / "cells.toml")
    versions = ["3.9.0", "3.4.1", "3.5.0", "3.10.0rc1", "3.12.0", "2.15.0", "3.11.3"]
    found, skipped = bisection.candidates(base, "keras", versions, None, "3.11.3", rules, matrix)
    assert [v for v, _ in found] == ["3.5.0", "3.9.0", "3.11.3"]  # release order, no rc, nothing past --to
    assert any(s.startswith("3.4.1: tensorflow 2.19.1 requires keras >=3.5.0") for s in skipped)
    assert any(s.startswith("2.15.0") for s in skipped)


def bisect_stored(case: str, tmp_path: Path) -> str:
    """Bisect a case over five Keras releases whose rows are stored (nothing installed): its write-up."""
    out = tmp_path / "b.md"
    proc = bisect_cli(
        case, "--axis", "keras", "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.5.0,3.6.0,3.7.0,3.8.0,3.9.2",
        store=tmp_path / "store", out=out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "**First keras release with the new outcome: 3.9.2**" in text
    assert "fail at predict_after_load up to 3.8.0" in text and "0 installed now" in text
    record = json.loads(out.with_suffix(".json").read_text())  # what the report reads
    assert (record["case"], record["kind"], record["first_release"], record["last_before"]) == (
        case,
        "outcome",
        "3.9.2",
        "3.8.0",
    )
    return text


def test_bisect_from_stored_rows_names_the_boundary(tmp_path: Path) -> None:
    text = bisect_stored(SEED, tmp_path)
    assert "3.6.0:" not in text  # binary search: 3.5.0, 3.9.2, 3.7.0, 3.8.0 only
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing/here", "--axis", "keras", "--releases", "3.8.0,3.9.2"], "no case named 'nothing/here'"),
        ([SEED, "--axis", "keras", "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.8.0"], "need 2"),
        ([SEED, "--axis", "keras", "--base", "tf=2.99.0", "--releases", "3.8.0,3.9.2"], "no cell has tf=2.99.0"),
    ],
)
def test_bad_bisect_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = bisect_cli(*args, store=tmp_path / "store", out=tmp_path / "b.md")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b.md").exists()


@pytest.mark.integration
def test_a_release_without_a_cell_is_installed_and_run(tmp_path: Path) -> None:
    out = tmp_path / "b.md"
    store = tmp_path / "store"
    args = [SEED, "--axis", "keras", "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.8.0,3.9.0"]
    proc = bisect_cli(*args, store=store, out=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "installing tensorflow-cpu==2.19.1 keras==3.9.0" in proc.stdout
    assert "1 installed now" in out.read_text()
    assert list(store.glob("*/bisect-py3.11-tf2.19.1-keras3.9.0.jsonl"))
    again = bisect_cli(*args, store=store, out=out)  # the probe's row is reused, nothing installed
    assert again.returncode == 0 and "from earlier bisect" in again.stdout and "0 installed now" in out.read_text()


class _Table:
    """Stands in for the timing of a probe (the search's own logic is what is tested): release -> verdict."""

    def __init__(self, words: dict[str, str]) -> None:
        self.words = words
        self.calls: list[tuple[str, str]] = []

    def compare(self, base: tuple[str, cells.Cell], probe: tuple[str, cells.Cell]) -> bisect_latency.Timing:
        self.calls.append((base[0], probe[0]))
        word = self.words[probe[0]]
        change = {"slower": 0.3, "faster": -0.3}.get(word, 0.01)
        verdict = {"verdict": word, "change": None if word == "not measured" else change}
        return bisect_latency.Timing(probe[0], probe[1], base[0], verdict, [], [])


def _releases(matrix: cells.Matrix, n: int) -> list[tuple[str, cells.Cell]]:
    base = matrix.get("tf2.16.2-keras3.15.1")
    return [(f"3.{i}.0", base) for i in range(n)]


@pytest.mark.parametrize("first", [1, 5, 9, 15])
def test_latency_search_finds_the_first_slower_release_in_log_probes(matrix: cells.Matrix, first: int) -> None:
    releases = _releases(matrix, 16)
    table = _Table({r: "slower" if i >= first else ("uncertain" if i == first - 1 else "unchanged")
                    for i, (r, _) in enumerate(releases)})  # fmt: skip
    result = bisect_latency.search_latency(releases, table)  # type: ignore[arg-type]
    assert result.boundary is not None and result.boundary[1].release == f"3.{first}.0" and not result.stopped
    searched = [c for c in table.calls if c[0] == "3.0.0"]
    assert len(searched) <= 5  # the newest, then log2(16) halvings
    assert all(c[0] == "3.0.0" for c in table.calls[: len(searched)])
    assert result.step is not None
    if first > 1:  # across the boundary, timed directly
        assert table.calls[-1] == (f"3.{first - 1}.0", f"3.{first}.0") and result.step.against == f"3.{first - 1}.0"


def test_latency_search_without_a_change_probes_only_the_newest(matrix: cells.Matrix) -> None:
    releases = _releases(matrix, 8)
    table = _Table({r: "uncertain" for r, _ in releases})
    result = bisect_latency.search_latency(releases, table)  # type: ignore[arg-type]
    assert result.boundary is None and table.calls == [("3.0.0", "3.7.0")] and not result.stopped


def test_latency_search_stops_on_a_probe_it_cannot_time(matrix: cells.Matrix) -> None:
    releases = _releases(matrix, 8)
    table = _Table({**{r: "slower" for r, _ in releases}, "3.3.0": "not measured"})
    result = bisect_latency.search_latency(releases, table)  # type: ignore[arg-type]
    assert result.boundary is None and result.stopped.startswith("3.3.0 could not be timed")


def test_latency_bisect_needs_six_rounds(tmp_path: Path) -> None:
    proc = bisect_cli(
        "latency/lstm:masked:predict_on_batch", "--axis", "keras", "--releases", "3.14.0,3.15.1", "--rounds", "3",
        store=tmp_path / "store", out=tmp_path / "b.md",
    )  # fmt: skip
    assert proc.returncode == 2 and "--rounds must be at least 6" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b.md").exists()


@pytest.mark.integration
def test_latency_bisect_times_each_probe_against_the_oldest(tmp_path: Path) -> None:
    """Both environments are installed afresh (a private environments folder): the write-up counts them."""
    jax = "jax0.10.2-keras3.15.1"
    out = tmp_path / "b.md"
    proc = bisect_cli(
        "latency/lstm:masked:predict_on_batch", "--axis", "keras", "--base", jax, "--releases", "3.14.0,3.15.1",
        "--scenarios", str(small_scenario(tmp_path / "scenarios")),
        store=tmp_path / "store", out=out, envs=tmp_path / "envs",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "round 6/6 FROM bisect-py3.11-keras3.14.0-jax" in proc.stdout and f"round 6/6 TO   {jax}" in proc.stdout
    data = json.loads(out.with_suffix(".json").read_text())
    (probe,) = data["probes"]
    assert (probe["release"], probe["against"], probe["cell"]) == ("3.15.1", "3.14.0", jax)
    assert len(probe["pairs_s"]) == 6 and all(a > 0 and b > 0 for a, b in probe["pairs_s"])
    assert probe["verdict"] in ("slower", "faster", "unchanged", "uncertain")
    text = out.read_text()
    assert "1 probed, 2 environment(s) installed now" in text and "against 3.14.0" in text
    assert data["first_changed"] == (None if probe["verdict"] not in ("slower", "faster") else "3.15.1")


@pytest.mark.integration
def test_a_latency_probe_that_cannot_install_stops_the_search_and_is_written(tmp_path: Path) -> None:
    out = tmp_path / "b.md"
    proc = bisect_cli(
        "latency/lstm:masked:predict_on_batch", "--axis", "keras", "--base", "jax0.10.2-keras3.15.1",
        "--releases", "3.14.0,99.0.0", store=tmp_path / "store", out=out, envs=tmp_path / "envs",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "**Stopped**: 99.0.0 could not be timed (bisect-py3.11-keras99.0.0-jax: installing" in text
    assert json.loads(out.with_suffix(".json").read_text())["stopped"].startswith("99.0.0 could not be timed")


def test_the_loader_axis_from_stored_rows(tmp_path: Path) -> None:
    """The first Keras release that loads and runs the tensor-mask file Keras 3.0.5 saved: 3.9.2 (no install)."""
    bisect_stored("upgrade/masking-lstm/tensor-float64:.keras@tf2.16.2-keras3.0.5", tmp_path)


def test_an_upgrade_case_of_a_file_never_saved_is_one_line(tmp_path: Path) -> None:
    proc = bisect_cli(
        "upgrade/masking-lstm/tensor-float64:.h5@tf2.16.2-keras3.0.5", "--axis", "keras",
        "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.8.0,3.9.2", store=tmp_path / "store", out=tmp_path / "b.md",
    )  # fmt: skip
    assert proc.returncode == 2 and "has no current row that saved a file" in proc.stderr
