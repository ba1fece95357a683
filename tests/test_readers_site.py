"""The static site's builder, without a browser: files, offline, data.js equal to the summary, bad summaries."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UserError
from harness.readers import site

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("MASKCOMPAT_RESULTS", ROOT / "results")) / "summary.json"
URL = re.compile(r"\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)  # a host: http://, https:// or //


def cell(family: str, label: str, order: int, **pins: Any) -> dict[str, Any]:
    base = {"tensorflow": None, "keras": None, "tf_keras": None, "keras_flavor": "keras3", "backend": "tensorflow"}
    return {**base, **pins, "python": "3.11", "family": family, "label": label, "order": order}


def verdict(cell_id: str, case: str, outcome: str, stage: str | None = None) -> dict[str, Any]:
    return {
        "machine": "m1",
        "cell_id": cell_id,
        "case": case,
        "outcome": outcome,
        "failed_stage": stage,
        "error_type": "TypeError" if stage else None,
        "error_signature": f"{stage}: TypeError: x" if stage else None,
        "measured_at": "2026-11-30T02:44:02+00:00",
        "measured_by": "cases/2",
        "harness_version": "0.1.0",
        "harness_commit": None,
        "packages": {"keras": "3.0.5", "tensorflow-cpu": "2.16.2"},
        "reproduce": f'nox -s matrix -- --cell {cell_id} --case "{case.split("/", 1)[1]}" --fresh',
    }


@pytest.fixture()
def summary() -> dict[str, Any]:
    """A small summary that follows the schema: three cells in two families, two cases, one upgrade pair."""
    k2 = "Keras 2 (tf.keras)"
    k3 = "Keras 3, tensorflow backend"
    case_a, case_b = "masking-lstm/tensor-float64:.keras", "masking-lstm/list:.keras"
    lat = "latency/lstm:masked:predict_on_batch"
    return {
        "schema_version": 4,
        "generated": {"at": "2026-12-01T00:00:00Z", "command": "nox -s report", "harness_version": "0.1.0"},
        "cells": {
            "tf2.15.1-keras2.15.0": cell(
                k2, "TF 2.15.1", 0, tensorflow="2.15.1", keras="2.15.0", keras_flavor="keras2"
            ),
            "tf2.16.2-keras3.0.5": cell(k3, "Keras 3.0.5 + TF 2.16.2", 1, tensorflow="2.16.2", keras="3.0.5"),
            "tf2.19.1-keras3.8.0": cell(k3, "Keras 3.8.0 + TF 2.19.1", 2, tensorflow="2.19.1", keras="3.8.0"),
        },
        "cases": {
            case_a: {
                "scenario": "masking-lstm",
                "case_id": "tensor-float64:.keras",
                "scenario_title": "seed",
                "params": {"mask_value": "tensor-float64", "format": ".keras"},
            },
            case_b: {"scenario": "masking-lstm", "case_id": "list:.keras", "scenario_title": "seed", "params": {}},
            lat: {
                "scenario": "latency",
                "case_id": "lstm:masked:predict_on_batch",
                "scenario_title": "t",
                "params": {},
            },
        },
        "machines": [
            {
                "id": "m1",
                "description": "2 cores",
                "measured_from": "2026-11-30T00:00:00Z",
                "measured_to": "2026-11-30T03:00:00Z",
                "commands": ["nox -s matrix"],
            },
        ],
        "verdicts": [
            verdict("tf2.15.1-keras2.15.0", case_a, "fail", "build"),
            verdict("tf2.15.1-keras2.15.0", case_b, "ok"),
            verdict("tf2.16.2-keras3.0.5", case_a, "fail", "predict_after_load"),
            verdict("tf2.16.2-keras3.0.5", case_b, "ok"),
            verdict("tf2.19.1-keras3.8.0", case_a, "mismatch", "equivalence"),
            verdict("tf2.19.1-keras3.8.0", case_b, "skip"),
        ],
        "transitions": [
            {
                "machine": "m1",
                "case": case_a,
                "family": k3,
                "verdict": "fails everywhere",
                "first_bad": None,
                "first_good": None,
                "fixed_in": None,
            },
        ],
        "bisects": [],
        "upgrade": {
            "sources": [case_a, case_b],
            "kinds": ["Masking → LSTM, a float64 tensor `mask_value`, `.keras`", "Masking → LSTM, a list, `.keras`"],
            "pairs": [
                {
                    "machine": "m1",
                    "saved_by": "tf2.16.2-keras3.0.5",
                    "loaded_by": "tf2.19.1-keras3.8.0",
                    "entries": {"ok": [1], "✗ load · keras2-time-major": [0]},
                    "fix": {"0": "shim"},
                },
            ],
        },
        "latency": [
            {
                "machine": "m1",
                "device": "cpu",
                "cell_id": c,
                "case": lat,
                "ms": ms,
                "ci_ms": [ms * 0.9, ms * 1.1],
                "masked_over_unmasked": 1.5,
                "unstable": c.startswith("tf2.15"),
                "measured_at": None,
            }
            for c, ms in (("tf2.15.1-keras2.15.0", 22.8), ("tf2.16.2-keras3.0.5", 17.7), ("tf2.19.1-keras3.8.0", 17.0))
        ],
        "sweep": [
            {
                "machine": "m1",
                "device": "cpu",
                "cell_id": "tf2.19.1-keras3.8.0",
                "case": f"latency-sweep/lstm:{model}:512:32:64:0.5",
                "rnn": "lstm",
                "model": model,
                "timesteps": 512,
                "batch": 32,
                "units": 64,
                "pad": 0.5,
                "ms": ms,
                "ci_ms": [ms * 0.9, ms * 1.1],
            }
            for model, ms in (("masked", 30.0), ("unmasked", 25.0), ("real-work", 12.0))
        ],
        "causes": [{"machine": "m1", "failing_rows": 1, "explained_rows": 1, "by_cause": {"keras2-time-major": 1}}],
        "cause_catalog": {"keras2-time-major": {"sentence": "Keras 2 writes `time_major`", "upstream": None}},
    }


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def check_site(folder: Path, data: dict[str, Any], hosts_in_data: bool = False) -> None:
    """index.html and data.js are there, no file names a host, links are local, data.js is the summary alone.

    `hosts_in_data`: the measured data may quote a URL inside an error message; data.js is still JSON and
    nothing else (it parses back to the summary), so that text is never loaded.
    """
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*site.FILES, "data.js"])
    for path in folder.iterdir():
        if hosts_in_data and path.name == "data.js":
            continue
        text = path.read_text(encoding="utf-8")
        assert not URL.search(text), f"{path.name} names a host: {URL.search(text)}"
        assert "fetch(" not in text and "XMLHttpRequest" not in text and "import(" not in text
    index = (folder / "index.html").read_text(encoding="utf-8")
    linked = re.findall(r'(?:src|href)="([^"#]+)"', index)
    assert sorted(linked) == ["data.js", "site.css", "site.js"]
    assert site.embedded((folder / "data.js").read_text(encoding="ascii")) == data


def test_the_site_holds_index_and_data_and_names_no_host(summary: dict[str, Any], tmp_path: Path) -> None:
    data = site.load(write(tmp_path, summary))
    written = site.build(data, tmp_path / "site")
    assert [p.name for p in written] == [*site.FILES, "data.js"]
    check_site(tmp_path / "site", summary)
    assert "3 latency figures" in site.describe(data, written)


def test_the_committed_summary_builds_a_site_equal_to_it(tmp_path: Path) -> None:
    if not REAL.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{REAL} is missing: `nox -s report` writes it, and it is committed")
        pytest.skip(f"{REAL} is not there yet (`nox -s report` writes it)")
    data = site.load(REAL)
    site.build(data, tmp_path / "site")
    check_site(tmp_path / "site", json.loads(REAL.read_text(encoding="utf-8")), hosts_in_data=True)


def test_building_again_replaces_the_site_s_files_and_keeps_others(summary: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "data.js").write_text("old")
    site.build(summary, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert site.embedded((out / "data.js").read_text()) == summary


def test_non_ascii_and_script_like_text_survive_data_js(summary: dict[str, Any]) -> None:
    summary["verdicts"][0]["error_signature"] = "</script><b>≠ é\u2028"
    assert site.embedded(site.data_js(summary)) == summary
    assert site.data_js(summary).isascii()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(schema_version=3), "schema_version: 4 was expected"),
        (lambda s: s.pop("upgrade"), "the top level: 'upgrade' is a required property"),
        (lambda s: s.update(extra=1), "('extra' was unexpected)"),
        (lambda s: s["verdicts"][2].update(outcome="okay"), "verdicts[2].outcome: 'okay' is not one of"),
        (lambda s: s["verdicts"][0].update(case="no-slash"), "verdicts[0].case: 'no-slash' does not match"),
        (lambda s: s["cells"]["tf2.16.2-keras3.0.5"].update(order=True), "order: True is not of type 'integer'"),
        (lambda s: s["latency"][0].update(ci_ms=[1.0]), "latency[0].ci_ms: [1.0] is too short"),
        (lambda s: s["sweep"][0].update(model="bucketed"), "sweep[0].model: 'bucketed' is not one of"),
        (lambda s: s["verdicts"][1].update(cell_id="tf9.9.9"), "verdicts[1].cell_id: 'tf9.9.9' is not in cells"),
        (lambda s: s["upgrade"]["pairs"][0]["entries"].update(ok=[7]), "source index 7 is past the 2 sources"),
        (lambda s: s["upgrade"]["pairs"][0]["entries"].update(ok=[-1]), "-1 is less than the minimum of 0"),
    ],
)
def test_a_summary_that_breaks_the_schema_is_one_line_naming_where(
    summary: dict[str, Any], tmp_path: Path, change: Any, message: str
) -> None:
    bad = copy.deepcopy(summary)
    change(bad)
    with pytest.raises(UserError) as err:
        site.load(write(tmp_path, bad))
    text = str(err.value)
    assert message in text and "nox -s report" in text and "\n" not in text


def test_a_missing_or_unreadable_summary_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        site.load(tmp_path / "summary.json")
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(UserError, match="is not readable JSON"):
        site.load(tmp_path / "summary.json")


def run_site(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "harness", "site", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_builds_the_site_and_says_where(summary: dict[str, Any], tmp_path: Path) -> None:
    proc = run_site("--summary", str(write(tmp_path, summary)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {tmp_path / 'out'}/ (4 files, ")
    assert (tmp_path / "out" / "index.html").as_uri() in proc.stdout
    check_site(tmp_path / "out", summary)


@pytest.mark.parametrize("content", [None, "[]", '{"schema_version": 1}'])
def test_the_command_on_a_bad_summary_is_one_line_and_exit_2(content: str | None, tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    if content is not None:
        path.write_text(content)
    proc = run_site("--summary", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_an_output_path_that_is_a_file_is_a_user_error(summary: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    with pytest.raises(UserError, match="cannot create the site folder"):
        site.build(summary, tmp_path / "out")
