"""`check --sarif`: the findings and the releases that do not load the file, valid SARIF 2.1.0 for code scanning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.decl import advisories
from harness.tools import sarif


def record(path: str) -> dict[str, Any]:
    target = {"cell_id": "tf2.20.0-keras3.10.0", "outcome": "skip", "failed_stage": "load", "error_type": "Refused",
              "error_message": "not loaded: a Lambda ..."}  # fmt: skip
    return {
        "path": path,
        "kind": "h5",
        "risks": [
            {"kind": "lambda-code", "where": "/config/layers[1]", "detail": "a Lambda's function stored as marshalled "
             "Python bytecode", "layer": "Lambda l", "acted_on_by": ["keras <3 (keras2-legacy-lambda)"]},
            {"kind": "path-name", "where": "/config/layers[2]", "detail": "the name '../x'", "layer": "Dense ../x",
             "acted_on_by": []},
        ],
        "targets": [target, {**target, "cell_id": "tf2.21.0-keras3.15.1", "outcome": "ok"}],
    }  # fmt: skip


def test_a_log_with_findings_and_a_refusing_release_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sarif_validator: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    doc = sarif.document([record(str(tmp_path / "models" / "m.h5"))], advisories.load())
    sarif_validator.validate(doc)
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rules == ["does-not-load", "lambda-code", "path-name"]
    levels = [(r["ruleId"], r["level"], rules[r["ruleIndex"]]) for r in run["results"]]
    assert levels == [("lambda-code", "error", "lambda-code"), ("path-name", "warning", "path-name"),
                      ("does-not-load", "warning", "does-not-load")]  # fmt: skip
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/m.h5"
    lambda_rule = run["tool"]["driver"]["rules"][1]
    assert lambda_rule["properties"]["security-severity"] == "9.0"
    assert lambda_rule["helpUri"].startswith("https://github.com/advisories/")


def test_a_clean_file_gives_an_empty_log(sarif_validator: Any) -> None:
    clean = {**record("m.keras"), "risks": [], "targets": [{"outcome": "ok"}]}
    doc = sarif.document([clean], advisories.load())
    sarif_validator.validate(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []
