"""Scenario parsing, case expansion and selection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import scenarios
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def copy_seed(tmp_path: Path) -> Path:
    dest = tmp_path / "masking-lstm.toml"
    shutil.copy(ROOT / "scenarios" / "masking-lstm.toml", dest)
    return dest


def test_seed_cases_have_the_issue_ids(scens: list[scenarios.Scenario]) -> None:
    seed = {s.id: s for s in scens}["masking-lstm"]
    assert seed.params == [
        {"mask_value": ["tensor-float64", "tensor-float32", "list", "numpy", "float"], "format": [".keras", ".h5"]}
    ]
    ids = [c.case_id for c in seed.cases()]
    assert ids[:2] == ["tensor-float64:.keras", "tensor-float64:.h5"] and len(ids) == 10


def test_hash_changes_with_content(tmp_path: Path) -> None:
    path = copy_seed(tmp_path)
    before = scenarios.parse(path).hash
    path.write_text(path.read_text().replace("units = 8", "units = 9"))
    assert scenarios.parse(path).hash != before


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"list", "numpy"', '"list", "pickle"', "field 'params.mask_value' has unknown id 'pickle'"),
        ('builder = "masking_rnn"', 'builder = "os.system"', "not a registered builder"),
        ("units = 8", 'units = "eight"', "field 'model.units' has the wrong type"),
        ('rnn = "lstm"', 'rnn = "transformer"', "field 'model.rnn'"),
        ('id = "masking-lstm"', 'colour = 1\nid = "masking-lstm"', "field 'colour' is not a scenario field"),
        ("rtol = 1e-5", 'rtol = "tight"', "field 'tolerance' must hold exactly the numbers"),
    ],
)
def test_bad_scenarios_name_file_line_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = copy_seed(tmp_path)
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(UserError, match=r"masking-lstm\.toml:\d+") as info:
        scenarios.parse(path)
    assert message in str(info.value)


def test_select_by_glob(scens: list[scenarios.Scenario]) -> None:
    chosen = scenarios.select(scens, ["tensor-*:.keras"])
    assert [c.case_id for c in chosen] == ["tensor-float64:.keras", "tensor-float32:.keras"]
    assert len(scenarios.select(scens, ["masking-lstm/list:*"])) == 2
    with pytest.raises(UserError, match="no case matches"):
        scenarios.select(scens, ["nothing"])
