"""The rewrite and the repair command, on a real `.keras` file saved by an affected release (Keras 3.1.1, TF 2.16.2)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import rewrite as repair
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "fixtures" / "masking-tensor-keras3.1.1.keras"
EXPECTED = BROKEN.with_suffix(".pred.npy")


def masking_value(path: Path) -> object:
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    layer = next(x for x in config["config"]["layers"] if x["class_name"] == "Masking")
    return layer["config"]["mask_value"]


def test_fixture_holds_the_tagged_tensor() -> None:
    assert masking_value(BROKEN) == {"class_name": "__tensor__", "config": {"value": [0.0] * 4, "dtype": "float64"}}


def test_repair_rewrites_only_the_config(tmp_path: Path) -> None:
    out = tmp_path / "fixed.keras"
    changes = repair.repair_file(BROKEN, out)
    assert changes == ["/config/layers[1]/config/mask_value: __tensor__ -> list"]
    assert masking_value(out) == [0.0] * 4
    with zipfile.ZipFile(BROKEN) as a, zipfile.ZipFile(out) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if name != "config.json":
                assert a.read(name) == b.read(name), name
    assert repair.repair_file(out, tmp_path / "again.keras") == []


def test_numpy_tags_are_repaired_too() -> None:
    config = {
        "layers": [{"config": {"mean": {"class_name": "__numpy__", "config": {"value": [1, 2], "dtype": "int64"}}}}]
    }
    fixed, changes = repair.repair_config(config)
    assert fixed == {"layers": [{"config": {"mean": [1, 2]}}]} and len(changes) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not a zip"), "not a .keras (zip) file"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("other.json", "{}"), "has no config.json"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, make: Callable[[Path], object], message: str) -> None:
    src = tmp_path / "in.keras"
    make(src)
    with pytest.raises(UserError, match=re.escape(message)):
        repair.repair_file(src, tmp_path / "out.keras")
    assert not (tmp_path / "out.keras").exists()


def test_in_and_out_must_differ() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "repair", str(BROKEN), str(BROKEN), "--no-check"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and "OUT must differ from IN" in proc.stderr


def repair_in_cell(cell_id: str, fixed: Path) -> subprocess.CompletedProcess[str]:
    """`repair` of the fixture from this interpreter (no keras here), its proof run in the cell."""
    return subprocess.run(
        [sys.executable, "-m", "harness", "repair", str(BROKEN), str(fixed), "--cell", cell_id],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )  # fmt: skip


LOAD_AND_PREDICT = """
import sys, numpy as np, keras
m = keras.models.load_model(sys.argv[1])
x = np.random.default_rng(0).standard_normal((4, 12, 4)).astype("float32"); x[:, 9:, :] = 0
y = m.predict(x, verbose=0)
assert np.allclose(y, np.load(sys.argv[2]), rtol=1e-5, atol=1e-6), "predictions differ from the original model"
print("ok")
"""


@pytest.mark.integration
def test_repaired_file_loads_and_predicts_on_the_affected_release(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    python = cell_python("tf2.16.2-keras3.1.1")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    broken = subprocess.run(
        [str(python), "-c", LOAD_AND_PREDICT, str(BROKEN), str(EXPECTED)], env=env, capture_output=True, text=True
    )
    assert broken.returncode != 0 and "__tensor__" in broken.stderr, "the fixture no longer shows the bug"
    fixed = tmp_path / "fixed.keras"
    proc = subprocess.run(
        [str(python), "-m", "harness", "repair", str(BROKEN), str(fixed)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Keras 3.1.1 cannot run the original in any way (that is the bug), so the proof rests on the rewrite
    assert (
        "proved " in proc.stdout and "in this interpreter: loads and predicts; the original does not run" in proc.stdout
    )
    after = subprocess.run(
        [str(python), "-c", LOAD_AND_PREDICT, str(fixed), str(EXPECTED)], env=env, capture_output=True, text=True
    )
    assert after.returncode == 0 and after.stdout.strip().endswith("ok"), after.stderr[-2000:]


@pytest.mark.integration
def test_repair_proves_in_a_cell_when_this_interpreter_has_no_keras(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    cell_python("tf2.16.2-keras3.1.1")
    fixed = tmp_path / "fixed.keras"
    proc = repair_in_cell("tf2.16.2-keras3.1.1", fixed)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "in tf2.16.2-keras3.1.1: loads and predicts; the original does not run on this release" in proc.stdout
    assert BROKEN.exists() and masking_value(BROKEN) != masking_value(fixed)  # the input is never changed


def test_the_new_file_keeps_the_inputs_permissions(tmp_path: Path) -> None:
    src = tmp_path / "in.keras"
    src.write_bytes(BROKEN.read_bytes())
    src.chmod(0o644)
    repair.repair_file(src, tmp_path / "out.keras")
    assert (tmp_path / "out.keras").stat().st_mode & 0o777 == 0o644


SAVE_VARIABLE_STEPS = """
import sys, keras
m = keras.Sequential([keras.Input((None, 4)), keras.layers.Masking(mask_value=keras.ops.zeros((4,))),
                      keras.layers.LSTM(3)])
m.save(sys.argv[1])
"""


@pytest.mark.integration
def test_repair_proves_a_model_with_variable_timesteps(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    """The proof builds its inputs the way `check` does: an unknown timestep dimension is filled, not int(None)."""
    python = cell_python("tf2.17.1-keras3.4.1")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    src, fixed = tmp_path / "steps.keras", tmp_path / "steps-fixed.keras"
    saved = subprocess.run([str(python), "-c", SAVE_VARIABLE_STEPS, str(src)], env=env, capture_output=True, text=True)
    assert saved.returncode == 0, saved.stderr[-2000:]
    proc = subprocess.run([str(python), "-m", "harness", "repair", str(src), str(fixed)], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and "proved " in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert fixed.stat().st_mode & 0o777 == src.stat().st_mode & 0o777


@pytest.mark.integration
def test_a_repaired_file_that_does_not_prove_out_is_removed(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    """Keras 2 cannot load a Keras 3 file at all: the proof fails, the new file goes, the exit code is 1, not 2."""
    cell_python("tf2.15.1-keras2.15.0")
    fixed = tmp_path / "fixed.keras"
    proc = repair_in_cell("tf2.15.1-keras2.15.0", fixed)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert "removed, the repaired file did not prove out" in proc.stdout and not fixed.exists()
