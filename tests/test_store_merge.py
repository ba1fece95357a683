"""Merging results from many machines or CI jobs: nothing dropped, nothing overwritten unless asked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UserError
from harness.store import merge
from harness.store import rowfiles as store

ROOT = Path(__file__).resolve().parent.parent
MACHINE = "x86_64-intel-xeon-2c-24g"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def real_rows(cell: str) -> list[dict[str, Any]]:
    return store.read_file(ROOT / "results" / MACHINE / f"{cell}.jsonl")


def write(folder: Path, machine: str, cell: str, rows: list[dict[str, Any]]) -> None:
    path = folder / machine / f"{cell}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def on_machine(rows: list[dict[str, Any]], machine: str) -> list[dict[str, Any]]:
    """The rows as another machine would have measured them."""
    return [{**r, "machine": {**r["machine"], "id": machine}} for r in rows]


def all_rows(folder: Path) -> list[dict[str, Any]]:
    return store.read_all(folder)


def test_jobs_of_many_machines_and_cells_merge_without_loss(tmp_path: Path) -> None:
    a, b = real_rows("tf2.15.1-keras2.15.0"), real_rows("tf2.21.0-keras3.15.1")
    write(tmp_path / "job1", MACHINE, "tf2.15.1-keras2.15.0", a)
    write(tmp_path / "job2", MACHINE, "tf2.21.0-keras3.15.1", b[: len(b) // 2])
    write(tmp_path / "job3", MACHINE, "tf2.21.0-keras3.15.1", b[len(b) // 2 :])  # same file, other cases
    write(tmp_path / "job4", "gpu-box", "tf2.21.0-keras3.15.1", on_machine(b, "gpu-box"))  # another machine
    write(tmp_path / "job5", MACHINE, "tf2.15.1-keras2.15.0", a)  # a repeat upload: identical rows
    jobs = [tmp_path / f"job{i}" for i in range(1, 6)]
    done = merge.merge(jobs, tmp_path / "merged", [])
    assert done.added == len(a) + 2 * len(b) and done.identical == len(a) and not done.replaced
    merged = all_rows(tmp_path / "merged")
    assert len(merged) == len(a) + 2 * len(b)
    by_file = {
        p.relative_to(tmp_path / "merged").as_posix(): len(store.read_file(p))
        for p in (tmp_path / "merged").glob("*/*")
    }
    assert by_file == {
        f"{MACHINE}/tf2.15.1-keras2.15.0.jsonl": len(a),
        f"{MACHINE}/tf2.21.0-keras3.15.1.jsonl": len(b),
        "gpu-box/tf2.21.0-keras3.15.1.jsonl": len(b),
    }
    again = merge.merge(jobs, tmp_path / "merged", [])  # merging the same artifacts twice changes nothing
    assert again.added == 0 and again.files == 0


def test_a_conflict_writes_nothing_unless_the_newer_row_may_win(tmp_path: Path) -> None:
    rows = real_rows("tf2.21.0-keras3.15.1")[:3]
    write(tmp_path / "old", MACHINE, "c", rows)
    changed = [dict(r) for r in rows]
    changed[1]["outcome"], changed[1]["started_at"] = "crash", "2099-01-01T00:00:00+00:00"
    write(tmp_path / "new", MACHINE, "c", changed)
    merge.merge([tmp_path / "old"], tmp_path / "dest", [])
    before = (tmp_path / "dest" / MACHINE / "c.jsonl").read_bytes()
    with pytest.raises(UserError, match="1 rows differ from rows already there \\(nothing written\\)"):
        merge.merge([tmp_path / "new"], tmp_path / "dest", [])
    assert (tmp_path / "dest" / MACHINE / "c.jsonl").read_bytes() == before
    done = merge.merge([tmp_path / "new"], tmp_path / "dest", [], newer_wins=True)
    assert len(done.replaced) == 1 and "2099-01-01" in done.replaced[0]
    assert [r["outcome"] for r in all_rows(tmp_path / "dest")].count("crash") == 1
    back = merge.merge([tmp_path / "old"], tmp_path / "dest", [], newer_wins=True)  # an older row never wins
    assert len(back.kept) == 1 and back.files == 0


def test_only_some_scenarios(tmp_path: Path) -> None:
    rows = real_rows("tf2.21.0-keras3.15.1")
    write(tmp_path / "src", MACHINE, "c", rows)
    merge.merge([tmp_path / "src"], tmp_path / "dest", [], only=["masking-lstm"])
    assert {r["scenario"] for r in all_rows(tmp_path / "dest")} == {"masking-lstm"}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "holds no <machine>/<cell>.jsonl"),
        ("corrupt", ":2: corrupt result line"),
    ],
)
def test_bad_sources_are_one_line_and_exit_2(tmp_path: Path, setup: str, message: str) -> None:
    src = tmp_path / "src"
    if setup != "missing":
        src.mkdir()
    if setup == "corrupt":
        (src / MACHINE).mkdir()
        shutil.copy(ROOT / "results" / MACHINE / "tf2.21.0-keras3.15.1.jsonl", src / MACHINE / "c.jsonl")
        lines = (src / MACHINE / "c.jsonl").read_text().splitlines()
        (src / MACHINE / "c.jsonl").write_text("\n".join([lines[0], lines[1][:50], *lines[2:]]) + "\n")
    argv = [sys.executable, "-m", "harness", "merge", str(src), "--into", str(tmp_path / "dest")]
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("machine", "a row of machine gpu-box in the folder of x86_64-intel-xeon-2c-24g"),
        ("measured_by", "measured by cases/0, where the masking-lstm scenario declares cases/1"),
    ],
)
def test_rows_that_do_not_belong_are_refused_in_one_line(tmp_path: Path, change: str, message: str) -> None:
    """A row of another machine, or of another declared handler version, never lands in a folder not its own."""
    rows = [r for r in real_rows("tf2.21.0-keras3.15.1") if r["scenario"] == "masking-lstm"][:3]
    bad = on_machine(rows, "gpu-box") if change == "machine" else [{**r, "measured_by": "cases/0"} for r in rows]
    write(tmp_path / "src", MACHINE, "c", rows[:1] + bad[1:])
    with pytest.raises(UserError, match="2 rows do not belong where they would go \\(nothing written\\)") as err:
        merge.merge([tmp_path / "src"], tmp_path / "dest", [], measured_by={"masking-lstm": "cases/1"})
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "dest").exists()
    argv = [sys.executable, "-m", "harness", "merge", str(tmp_path / "src"), "--into", str(tmp_path / "dest")]
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
