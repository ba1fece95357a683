"""Scenario parsing, case expansion and selection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.decl import handlers, scenarios
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


def test_param_groups_are_a_union(scens: list[scenarios.Scenario]) -> None:
    work = {s.id: s for s in scens}["workarounds"]
    ids = [c.case_id for c in work.cases()]
    assert "list:list:.keras" in ids and "savedmodel:tensor-float64:savedmodel" in ids
    assert "savedmodel:tensor-float64:.h5" not in ids
    routes = {c.params["route"] for c in work.cases()}
    assert routes == {"list", "custom-layer", "custom-objects", "savedmodel", "weights-only", "repair"}


def test_cells_filter_by_id_or_tag(tmp_path: Path, scens: list[scenarios.Scenario]) -> None:
    breadth = {s.id: s for s in scens}["rnn-breadth"]
    assert breadth.applies_to("tf2.21.0-keras3.15.1", ["tf-default", "keras3", "tensorflow"])
    assert not breadth.applies_to("tf2.17.1-keras3.2.1", ["keras3-minor", "keras3", "tensorflow"])
    path = copy_seed(tmp_path)
    path.write_text(path.read_text().replace("timeout_s = 180", 'timeout_s = 180\ncells = ["jax"]'))
    only_jax = scenarios.parse(path)
    assert only_jax.applies_to("anything", ["keras3", "jax"]) and not only_jax.applies_to("x", ["tensorflow"])
    cases = scenarios.select([only_jax], None, ("x", ["tensorflow"]))
    assert cases == []


def test_repeated_case_ids_are_refused(tmp_path: Path) -> None:
    path = copy_seed(tmp_path)
    text = path.read_text().replace("[params]", "[[params]]")
    text += '\n[[params]]\nmask_value = ["list"]\nformat = [".keras"]\n'
    path.write_text(text)
    with pytest.raises(UserError, match=r"case ids repeat across \[\[params\]\] groups: \['list:.keras'\]"):
        scenarios.load_all(tmp_path)


def test_latency_scenario_is_timed_by_its_own_handler(scens: list[scenarios.Scenario]) -> None:
    by_id = {s.id: s for s in scens}
    lat = by_id["latency"]
    assert lat.timed and not by_id["masking-lstm"].timed
    assert lat.bench is not None and lat.bench["rounds"] >= 2  # samples from more than one process
    assert "lstm:floor:direct" in [c.case_id for c in lat.cases()]
    assert (lat.measured_by, by_id["masking-lstm"].measured_by) == (handlers.LATENCY.tag, handlers.CASES.tag)


def test_the_hash_covers_the_declaration_not_its_layout(tmp_path: Path) -> None:
    """A comment or blank line in a scenario file changes nothing; a changed value does."""
    path = copy_seed(tmp_path)
    before = scenarios.parse(path).hash
    path.write_text("# a comment\n\n" + path.read_text() + "\n# another\n")
    assert scenarios.parse(path).hash == before
    path.write_text(path.read_text().replace("units = 8", "units = 9"))
    assert scenarios.parse(path).hash != before


def test_find_looks_a_case_up_by_its_parameters(scens: list[scenarios.Scenario]) -> None:
    seed = next(s for s in scens if s.id == "masking-lstm")
    case = seed.find(mask_value="list", format=".h5")
    assert case is not None and case.case_id == "list:.h5"
    assert seed.find(mask_value="list") is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rounds = 3", "rounds = 0", "field 'bench.samples' needs rounds >= 1"),
        ("samples = 15", "samples = 2", "needs rounds >= 1 and samples >= 3"),
        ("threads = 1", 'threads = "one"', "field 'bench.threads' must be a non-negative number"),
        ("cpu = -1", "cpu = -3", "field 'bench.cpu' must be"),
        ("warmup = 1", "warmup = 1\nturbo = true", "field 'bench.turbo' is not a bench setting"),
        ('model = ["floor"]', 'model = ["fastest"]', "field 'params.model' has unknown id 'fastest'"),
    ],
)
def test_bad_bench_tables_name_file_line_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "latency.toml"
    text = (ROOT / "scenarios" / "latency.toml").read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(UserError, match=r"latency\.toml:\d+") as info:
        scenarios.parse(path)
    assert message in str(info.value)


def test_bench_table_only_in_latency_scenarios(tmp_path: Path) -> None:
    path = copy_seed(tmp_path)
    path.write_text(path.read_text() + "\n[bench]\nrounds = 1\n")
    with pytest.raises(UserError, match="field 'bench' only applies to timed scenarios"):
        scenarios.parse(path)
    lat = tmp_path / "latency.toml"
    head, tail = (ROOT / "scenarios" / "latency.toml").read_text().split("[bench]")
    lat.write_text(head + tail.split("\n\n", 1)[1])
    with pytest.raises(UserError, match=r"needs a \[bench\] table"):
        scenarios.parse(lat)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('id = "upgrade"\nbuilder = "upgrade"\n', "field 'sources' must be a non-empty list"),
        (
            'id = "upgrade"\nbuilder = "upgrade"\nsources = ["masking-lstm"]\n[params]\nx = ["y"]\n',
            "field 'params' does not apply to the upgrade scenario",
        ),
        ('id = "upgrade"\nbuilder = "upgrade"\nsources = ["latency"]\n', "sources names 'latency'"),
    ],
)
def test_the_upgrade_scenario_names_its_sources(tmp_path: Path, text: str, message: str) -> None:
    shutil.copy(ROOT / "scenarios" / "masking-lstm.toml", tmp_path)
    shutil.copy(ROOT / "scenarios" / "latency.toml", tmp_path)
    (tmp_path / "upgrade.toml").write_text(text)
    with pytest.raises(UserError, match=message):
        scenarios.load_all(tmp_path)


def test_the_upgrade_scenario_has_no_static_cases(scens: list[scenarios.Scenario]) -> None:
    up = next(s for s in scens if s.handler == "upgrade")
    assert up.cases() == [] and up.measured_by == "upgrade/3" and "masking-lstm" in up.sources


def test_sweep_shapes_are_numbers_written_as_strings(tmp_path: Path) -> None:
    """A sweep point's timesteps, batch, units and padding: any non-negative number, one line naming a bad one."""
    text = (ROOT / "scenarios" / "latency-sweep.toml").read_text()
    scen = scenarios.parse(ROOT / "scenarios" / "latency-sweep.toml")
    assert scen.timed and scen.handler == "sweep" and len(scen.cases()) >= 100
    assert {c.params["pad"] for c in scen.cases()} == {"0", "0.25", "0.5", "0.75", "0.9"}
    for bad in ('"-1"', '"many"', "32"):
        path = tmp_path / "latency-sweep.toml"
        path.write_text(text.replace('timesteps = ["512"]', f"timesteps = [{bad}]", 1))
        with pytest.raises(
            UserError, match=r"latency-sweep\.toml:\d+: field 'params.timesteps' has .*not a non-negative"
        ):
            scenarios.parse(path)
