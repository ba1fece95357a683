"""`check` on real files saved by real releases, its verdicts held against loading the files by hand.

The files are saved here, in pinned cells: Keras 2.15 (a Sequential with a list mask as `.h5` and `.keras`,
a multi-input Functional with Masking) and Keras 3.0.5 (a Sequential with a tensor mask, which hits the
bug, and a multi-input Functional without Masking). Each target cell then loads every file by hand, with
plain `load_model` and `predict` and no harness code, and `check`'s verdict for that cell must agree: the
stage where it fails, or that it runs and predicts what the other cells predict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.decl import cells
from harness.tools import check
from harness.tools.inspect import inspect

ROOT = Path(__file__).resolve().parent.parent
KERAS2, KERAS3 = "tf2.15.1-keras2.15.0", "tf2.16.2-keras3.0.5"
SAVED = {
    KERAS2: ["seq-list.h5", "seq-list.keras", "multi-mask.keras"],
    KERAS3: ["seq-tensor.keras", "multi-plain.keras"],
}
TARGETS = [KERAS2, "tf2.21.0-tfkeras2.21.0", KERAS3, "tf2.21.0-keras3.15.1", "jax0.10.2-keras3.15.1",
           "torch2.13.0-keras3.15.1"]  # fmt: skip

PRELUDE = """
import json, os, sys
from pathlib import Path
import numpy as np
flavor = os.environ["MASKCOMPAT_FLAVOR"]
if flavor == "keras3":
    import keras
elif flavor == "tf_keras":
    import tf_keras as keras
else:
    import tensorflow as tf
    keras = tf.keras
"""

SAVE = (
    PRELUDE
    + """
out = Path(sys.argv[1])
L = keras.layers
def masked(mask):
    if flavor == "keras3":
        return keras.Sequential([keras.Input((None, 4)), L.Masking(mask_value=mask), L.LSTM(8), L.Dense(1)])
    return keras.Sequential([L.Masking(mask_value=mask, input_shape=(None, 4)), L.LSTM(8), L.Dense(1)])
def multi(mask):
    steps, static = keras.Input((None, 4), name="steps"), keras.Input((3,), name="static")
    x = L.GRU(6)(L.Masking(mask_value=mask)(steps) if mask is not None else steps)
    y = L.Dense(4, activation="relu")(static)
    return keras.Model([steps, static], L.Dense(2)(L.Concatenate()([x, y])))
for name in sys.argv[2:]:
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = {
        "seq-list": lambda: masked(0.0),
        "seq-tensor": lambda: masked(keras.ops.convert_to_tensor(0.0, dtype="float64")),
        "multi-mask": lambda: multi(0.0),
        "multi-plain": lambda: multi(None),
    }[name.split(".")[0]]()
    model.save(out / name)
"""
)

BY_HAND = (
    PRELUDE
    + """
rng = np.random.default_rng(1)
steps = rng.standard_normal((3, 10, 4)).astype("float32")
steps[:, 7:, :] = 0.0
static = rng.standard_normal((3, 3)).astype("float32")
found = {}
for path in sys.argv[2:]:
    stage = "load"
    try:
        model = keras.models.load_model(path)
        stage = "predict_after_load"
        out = model.predict([steps, static] if "multi" in path else steps, verbose=0)
        np.save(Path(sys.argv[1]) / (Path(path).name + ".npy"), np.asarray(out))
        found[Path(path).name] = {"outcome": "ok", "failed_stage": None}
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        found[Path(path).name] = {"outcome": "fail", "failed_stage": stage, "error": error}
print(json.dumps(found))
"""
)


def run_in(python: Path, cell: cells.Cell, script: str, *argv: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS", "TF_USE"))}
    env.update(cell.env, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    proc = subprocess.run([str(python), "-c", script, *argv], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files, saved once in their pinned cells."""
    from harness.runner import envs

    matrix = cells.load(ROOT / "cells" / "cells.toml")
    folder = tmp_path_factory.mktemp("models")
    for cell_id, names in SAVED.items():
        cell = matrix.get(cell_id)
        run_in(Path(envs.install(cell, check=True).python), cell, SAVE, str(folder), *names)
    return folder


@pytest.fixture(scope="module")
def by_hand(saved: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each target cell's own verdict on each file: plain load_model and predict, outputs kept for comparing."""
    from harness.runner import envs

    matrix = cells.load(ROOT / "cells" / "cells.toml")
    files = [str(saved / n) for names in SAVED.values() for n in names]
    verdicts: dict[str, dict[str, Any]] = {}
    for cell_id in TARGETS:
        cell = matrix.get(cell_id)
        outs = tmp_path_factory.mktemp(cell_id)
        verdicts[cell_id] = json.loads(run_in(Path(envs.install(cell, check=True).python), cell, BY_HAND,
                                              str(outs), *files))  # fmt: skip
        for name, v in verdicts[cell_id].items():
            if v["outcome"] == "ok":
                v["outputs"] = np.load(outs / f"{name}.npy")
    return verdicts


def run_check(path: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "check", str(path), "--json", str(out), "--out", str(out.with_suffix(".md")),
         *extra],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc.returncode, json.loads(out.read_text())["files"][0]


def agrees(record: dict[str, Any], mine: dict[str, Any]) -> bool:
    """check's verdict for a cell against the cell's own: the same failing stage, or both run."""
    if mine["outcome"] != "ok":
        return record["outcome"] == "fail" and record["failed_stage"] == mine["failed_stage"]
    return record["outcome"] in ("ok", "runs", "mismatch")


@pytest.mark.integration
@pytest.mark.parametrize("name", [n for names in SAVED.values() for n in names])
def test_verdicts_match_loading_by_hand(
    name: str, saved: Path, by_hand: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    before = (saved / name).read_bytes()
    code, found = run_check(saved / name, tmp_path / "out.json")
    assert (saved / name).read_bytes() == before, "the user's file is never changed"
    records = {t["cell_id"]: t for t in found["targets"]}
    assert set(records) == set(TARGETS) - ({KERAS3} if name in SAVED[KERAS2] else set())
    for cell_id, record in records.items():
        mine = by_hand[cell_id][name]
        assert agrees(record, mine), (cell_id, record, mine)
        assert set(check.JSON_FIELDS) <= set(record)
    running = [c for c in records if by_hand[c][name]["outcome"] == "ok"]
    for a in running:  # every cell that runs the file by hand predicts what the others do, as check says
        for b in running:
            same = np.allclose(by_hand[a][name]["outputs"], by_hand[b][name]["outputs"], rtol=1e-4, atol=1e-5)
            assert same == (records[a]["outcome"] == records[b]["outcome"] == "ok"), (a, b)
    assert code == (0 if all(r["outcome"] == "ok" for r in records.values()) else 1)


@pytest.mark.integration
def test_the_tensor_mask_file_names_its_fix_and_cites_the_matrix(saved: Path, tmp_path: Path) -> None:
    code, found = run_check(saved / "seq-tensor.keras", tmp_path / "out.json")
    saver = next(t for t in found["targets"] if t["cell_id"] == KERAS3)
    assert (saver["outcome"], saver["failed_stage"], saver["fix"]) == ("fail", "predict_after_load", "repair")
    assert saver["error_signature"] and "__tensor__" in saver["error_message"]
    assert "through the repair route" in saver["reference"]
    newest = next(t for t in found["targets"] if t["cell_id"] == "tf2.21.0-keras3.15.1")
    assert newest["outcome"] == "ok" and newest["max_abs_diff"] < 1e-5 and newest["masking"] == "ok"
    assert [f["kind"] for f in found["findings"]] == ["tagged-value"]
    report = (tmp_path / "out.md").read_text()
    assert f"nox -f {ROOT / 'noxfile.py'} -s repair -- {(saved / 'seq-tensor.keras').resolve()}" in report
    assert saver["cause"] == "tagged-value-reaches-op"
    assert "No code in the file was executed" in report
    assert code == 1


@pytest.mark.integration
def test_to_a_spec_and_inputs_with_outputs(saved: Path, tmp_path: Path) -> None:
    """`--only --to` checks just that release; `--inputs` outputs are the reference where the saver is absent."""
    steps = np.random.default_rng(2).standard_normal((2, 6, 4)).astype("float32")
    np.savez(tmp_path / "in.npz", steps, output_0=np.zeros((2, 1), "float32"))
    code, found = run_check(saved / "seq-list.h5", tmp_path / "out.json", "--only", "--to",
                            "tf=2.21.0,tf_keras=2.21.0", "--inputs", str(tmp_path / "in.npz"))  # fmt: skip
    (only,) = found["targets"]
    assert only["cell_id"] == "tf2.21.0-tfkeras2.21.0" and only["reference"] == "the outputs in in.npz"
    assert only["outcome"] == "mismatch" and only["max_abs_diff"] > 0 and code == 1


@pytest.mark.integration
def test_the_readme_gate_with_only_passes_a_file_that_loads_and_predicts_the_same(saved: Path, tmp_path: Path) -> None:
    """`--only` still compares with the saving release's outputs (loaded for the reference, not judged)."""
    code, found = run_check(saved / "multi-plain.keras", tmp_path / "out.json", "--to", "tf=2.21.0,keras=3.15.1",
                            "--only")  # fmt: skip
    (only,) = found["targets"]
    assert only["cell_id"] == "tf2.21.0-keras3.15.1" and only["outcome"] == "ok", only
    assert only["reference"].startswith(f"the saving release's outputs, {KERAS3}")
    assert code == 0


@pytest.mark.integration
def test_a_file_of_a_newer_minor_names_its_cause_where_the_user_is(tmp_path: Path) -> None:
    """Saved by Keras 3.15.1, checked against 3.12.4 from another folder: the printed line and the markdown (beside
    --json by default) name the cause."""
    from harness.runner import envs

    cell = cells.load(ROOT / "cells" / "cells.toml").get("tf2.21.0-keras3.15.1")
    run_in(Path(envs.install(cell, check=True).python), cell, SAVE, str(tmp_path), "seq-list.keras")
    (tmp_path / "out").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "check", "seq-list.keras", "--to", "tf2.21.0-keras3.12.4", "--only",
         "--json", "out/check.json"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    (target,) = json.loads((tmp_path / "out" / "check.json").read_text())["files"][0]["targets"]
    assert (target["outcome"], target["failed_stage"], target["cause"]) == ("fail", "load", "newer-keras3-argument")
    assert target["reference"].startswith("the saving release's outputs")
    line = next(x for x in proc.stdout.splitlines() if x.strip().startswith("tf2.21.0-keras3.12.4"))
    assert "at load (`newer-keras3-argument`: A newer Keras 3 writes arguments" in line, line
    assert "`newer-keras3-argument`" in (tmp_path / "out" / "seq-list.keras.md").read_text()
    # the fix it names is the shim, and the file that command writes loads there and predicts as 3.15.1 does
    assert target["fix"] == "shim" and target["fix_max_abs_diff"] < 1e-5, target
    assert "-s repair -- --for tf2.21.0-keras3.12.4 " in line
    shimmed(tmp_path / "seq-list.keras", "tf2.21.0-keras3.15.1", "tf2.21.0-keras3.12.4", tmp_path)


def shimmed(original: Path, saver: str, target: str, tmp_path: Path) -> str:
    """`repair --for TARGET` on the file, then, by hand with no harness code, the written file loaded in the target
    predicts what the original predicts in the saving release; what repair printed."""
    from harness.runner import envs

    fixed = original.parent / f"fixed{original.suffix}"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "repair", "--for", target, original.name, fixed.name],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=original.parent, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0 and fixed.is_file(), proc.stdout + proc.stderr[-3000:]
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    outputs = {}
    for cell_id, path in ((saver, original), (target, fixed)):
        cell, out = matrix.get(cell_id), tmp_path / f"by-hand-{cell_id}"
        out.mkdir()
        found = json.loads(run_in(Path(envs.install(cell, check=True).python), cell, BY_HAND, str(out), str(path)))
        assert found[path.name]["outcome"] == "ok", (cell_id, found)
        outputs[cell_id] = np.load(out / f"{path.name}.npy")
    assert np.allclose(outputs[saver], outputs[target], rtol=1e-5, atol=1e-6)
    return proc.stdout


@pytest.mark.integration
def test_a_keras2_h5_lstm_is_carried_into_keras3_by_the_shim(saved: Path, tmp_path: Path) -> None:
    """Keras 3 refuses a Keras 2.15 `.h5` LSTM (`time_major`); check names the shim with its command, and the
    file `repair --for` writes loads in Keras 3.15.1 and predicts what Keras 2.15 predicts."""
    newest = "tf2.21.0-keras3.15.1"
    code, found = run_check(saved / "seq-list.h5", tmp_path / "out.json", "--only", "--to", newest)
    (target,) = found["targets"]
    assert (target["outcome"], target["failed_stage"], target["cause"]) == ("fail", "load", "keras2-time-major")
    assert target["fix"] == "shim" and target["fix_max_abs_diff"] < 1e-5 and code == 1, target
    assert f"-s repair -- --for {newest} {(saved / 'seq-list.h5').resolve()}" in (tmp_path / "out.md").read_text()
    original = tmp_path / "seq-list.h5"
    original.write_bytes((saved / "seq-list.h5").read_bytes())
    said = shimmed(original, KERAS2, newest, tmp_path)
    assert "LSTM `lstm`: dropped `time_major` = false" in said and "predicts as the saving release's outputs" in said


@pytest.mark.integration
def test_the_shim_writes_nothing_where_it_cannot_drop_an_argument(tmp_path: Path) -> None:
    """A Keras 3 file for Keras 2: its input's `batch_shape` is no default to drop, so it is named and no file is
    written."""
    from harness.runner import envs

    cell = cells.load(ROOT / "cells" / "cells.toml").get("tf2.21.0-keras3.15.1")
    run_in(Path(envs.install(cell, check=True).python), cell, SAVE, str(tmp_path), "seq-list.keras")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "repair", "--for", KERAS2, "seq-list.keras", "fixed.keras"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    assert "fixed.keras: not written; this release refuses arguments the shim cannot drop safely" in proc.stdout
    assert "`batch_shape` = [null, null, 4]" in proc.stdout and not (tmp_path / "fixed.keras").exists()


def test_default_targets_are_the_saver_and_the_newest_of_each_family(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.5"}))
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
    targets = check.default_targets(inspect(tmp_path / "m.keras"), cells.load(ROOT / "cells" / "cells.toml"))
    assert [t.cell.id for t in targets] == [KERAS3] + [c for c in TARGETS if c != KERAS3]
    assert targets[0].why == "the saving release (Keras 3.0.5)"
    assert [t.why for t in targets[1:3]] == ["the newest Keras 2 (tf.keras)", "the newest tf-keras"]


ZOO_SAVE = """
import sys, keras
L = keras.layers
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                      L.MaxPooling2D(), L.Flatten(), L.Dense(2)])
m.save(sys.argv[1] + "/my-cnn.keras")
"""


@pytest.mark.integration
def test_the_static_pass_quotes_the_rows_of_the_files_kind(tmp_path: Path) -> None:
    """A user's CNN (not the zoo's own file): the static pass names the zoo's `cnn` kind and quotes its rows, not
    the Masking -> LSTM ones."""
    from harness.runner import envs

    cell = cells.load(ROOT / "cells" / "cells.toml").get("tf2.21.0-keras3.15.1")
    run_in(Path(envs.install(cell, check=True).python), cell, ZOO_SAVE, str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "check", "my-cnn.keras", "--static", "--json", "out.json"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.strip().startswith("= a `cnn` model"))
    assert "the zoo's `cnn` `.keras` model saved by Keras 3.15.1 loads and predicts the same on" in line, line
    assert "Masking with a list mask_value" not in proc.stdout
    said = json.loads((tmp_path / "out.json").read_text())["files"][0]["matrix_says"]
    assert set(said) == {"zoo:cnn"}


def test_a_config_tells_the_zoo_kinds_it_is_made_of(tmp_path: Path) -> None:
    from harness.tools.check_evidence import zoo_kinds
    from harness.tools.inspect import Inspection

    def kinds(config: dict[str, Any]) -> list[str]:
        return zoo_kinds(Inspection(tmp_path / "m.keras", "keras", "3.15.1", config=config))

    layer = lambda name, **cfg: {"class_name": name, "config": {"name": name.lower(), **cfg}}  # noqa: E731
    seq = lambda *layers: {"class_name": "Sequential", "config": {"layers": list(layers)}}  # noqa: E731
    assert kinds(seq(layer("Conv2D"), layer("Dense"))) == ["cnn"]
    assert kinds(seq(layer("Embedding", mask_zero=True), layer("GRU"))) == ["embedding-mask-gru"]
    assert kinds(seq(layer("Embedding", mask_zero=False), layer("GRU"))) == []
    two = {
        "class_name": "Functional",
        "config": {
            "layers": [layer("MultiHeadAttention")],
            "input_layers": [["a", 0, 0], ["b", 0, 0]],
            "output_layers": [],
        },
    }
    assert kinds(two) == ["transformer", "multi-io"]
    assert kinds({"class_name": "TwoTower", "config": {}}) == ["subclassed-model"]
    assert kinds(seq(layer("Dense", dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}))) == [
        "mixed-precision"
    ]
