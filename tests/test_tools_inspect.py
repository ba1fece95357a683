"""The static pass of `check`: what a file is and what in it breaks, read without a framework; bad input refused.

The files here are built by hand (a zip with a config, an HDF5 file with attributes): the static pass reads
bytes, so no framework is needed. Files saved by real releases are checked in `test_upgrade_check.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UserError
from harness.tools import inspect as inspect_mod
from harness.tools.inspect import inspect, scan

ROOT = Path(__file__).resolve().parent.parent
TENSOR = {"class_name": "__tensor__", "config": {"value": 0.0, "dtype": "float64"}}


def config(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": list(layers)}}


def layer(cls: str, name: str, **conf: Any) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": cls, "config": {"name": name, **conf}, "registered_name": None}


def archive(path: Path, members: dict[str, Any]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, value in members.items():
            z.writestr(name, value if isinstance(value, (str, bytes)) else json.dumps(value))
    return path


def good_archive(path: Path) -> Path:
    meta = {"keras_version": "3.0.5", "date_saved": "2026-11-30@02:54:43"}
    cfg = config(layer("Masking", "masking", mask_value=TENSOR), layer("LSTM", "lstm", units=8))
    return archive(path, {"metadata.json": meta, "config.json": cfg, "model.weights.h5": b"\0" * 64})


def test_a_keras_archive_gives_its_version_date_and_tagged_mask(tmp_path: Path) -> None:
    found = inspect(good_archive(tmp_path / "m.keras"))
    assert (found.kind, found.keras_version, found.date_saved, found.family) == (
        "keras", "3.0.5", "2026-11-30@02:54:43", "keras3"
    )  # fmt: skip
    assert found.masks
    assert [(f.kind, f.where, f.layer) for f in found.findings] == [
        ("tagged-value", "/config/layers[0]/config/mask_value", "Masking masking")
    ]


def test_every_known_hazard_is_found_where_it_sits() -> None:
    """Compatibility findings only: the Lambda is an unsafe finding (`tests/test_tools_risks.py`)."""
    custom = {"module": "my_models.layers", "class_name": "Gate", "config": {"name": "gate"},
              "registered_name": "my_models>Gate"}  # fmt: skip
    old = {"module": "keras.src.engine.functional", "class_name": "Functional", "config": {"name": "f", "layers": []}}
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}
    numpy = {"class_name": "__numpy__", "config": {"value": [1, 2], "dtype": "int64"}}
    cfg = config(
        layer("Lambda", "twice", function={"class_name": "__lambda__", "config": {"code": "..."}}),
        custom,
        old,
        layer("Dense", "d", dtype=policy, bias_initializer={"class_name": "Constant", "config": {"value": numpy}}),
    )
    assert {(f.kind, f.layer) for f in scan(cfg)} == {
        ("custom-class", "Gate gate"),
        ("old-module", "Functional f"),
        ("dtype-policy", "Dense d"),
        ("tagged-value", "Dense d"),
    }
    assert not scan(config(layer("Masking", "m", mask_value=[0.0]), layer("LSTM", "l", units=4)))


def test_an_hdf5_model_and_a_weights_file(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.15.0", "tensorflow"
        f.attrs["model_config"] = json.dumps(config(layer("Masking", "m", mask_value=0.0)))
    found = inspect(tmp_path / "m.h5")
    assert (found.kind, found.keras_version, found.backend, found.family, found.masks) == (
        "h5", "2.15.0", "tensorflow", "keras2", True
    )  # fmt: skip
    with h5py.File(tmp_path / "w.weights.h5", "w") as f:
        f.create_group("layers").create_dataset("kernel", data=[1.0, 2.0])
    assert inspect(tmp_path / "w.weights.h5").kind == "weights"


def test_a_savedmodel_folder(tmp_path: Path) -> None:
    (tmp_path / "sm" / "variables").mkdir(parents=True)
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"\x08\x01")
    found = inspect(tmp_path / "sm")
    assert (found.kind, found.config, found.findings) == ("savedmodel", None, [])


def truncated(tmp_path: Path) -> Path:
    data = good_archive(tmp_path / "full.keras").read_bytes()
    (tmp_path / "full.keras").unlink()
    (tmp_path / "m.keras").write_bytes(data[: len(data) // 2])
    return tmp_path / "m.keras"


def truncated_h5(tmp_path: Path) -> Path:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "full.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config())
        f.create_dataset("w", data=list(range(1000)))
    data = (tmp_path / "full.h5").read_bytes()
    (tmp_path / "full.h5").unlink()
    (tmp_path / "m.h5").write_bytes(data[: len(data) // 3])
    return tmp_path / "m.h5"


def bad_pb(tmp_path: Path) -> Path:
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"\x12\xff\x01truncated")  # a field longer than the file
    return tmp_path / "sm"


def empty_dir(tmp_path: Path) -> Path:
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "notes.txt").write_text("x")
    return tmp_path / "sm"


BAD = {
    "missing": (lambda d: d / "nothing.keras", "no such file or folder"),
    "not a model": (lambda d: (d / "m.keras").write_text("hello") and d / "m.keras", "neither a .keras archive"),
    "truncated archive": (truncated, "not a readable .keras archive (truncated"),
    "truncated hdf5": (truncated_h5, "not a readable HDF5 file"),
    "dot-dot member": (
        lambda d: archive(d / "m.keras", {"config.json": config(), "../../escape.txt": "x"}),
        "archive member '../../escape.txt' points outside the archive",
    ),
    "absolute member": (
        lambda d: archive(d / "m.keras", {"config.json": config(), "/etc/cron.d/x": "x"}),
        "archive member '/etc/cron.d/x' points outside the archive",
    ),
    "missing config": (lambda d: archive(d / "m.keras", {"metadata.json": {}}), "has no config.json"),
    "config not json": (lambda d: archive(d / "m.keras", {"config.json": "{not json"}), "its config cannot be read"),
    "folder without saved_model.pb": (empty_dir, "a folder without saved_model.pb"),
    "saved_model.pb not a protocol buffer": (bad_pb, "saved_model.pb is not a SavedModel protocol buffer"),
    "truncated HDF5 member": (
        lambda d: archive(
            d / "m.keras", {"config.json": config(), "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 40}
        ),
        "a part of the file cannot be read",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_userror(case: str, tmp_path: Path) -> None:
    make, message = BAD[case]
    path = make(tmp_path)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")):
        inspect(path)


def test_files_over_the_limits_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = good_archive(tmp_path / "m.keras")
    monkeypatch.setattr(inspect_mod, "MAX_BYTES", 100)
    with pytest.raises(UserError, match=r"more than the 0 GiB this check reads"):
        inspect(path)
    monkeypatch.setattr(inspect_mod, "MAX_BYTES", 1 << 30)
    bomb = archive(tmp_path / "bomb.keras", {"config.json": config(), "weights.bin": b"\0" * 4096})
    monkeypatch.setattr(inspect_mod, "MAX_UNCOMPRESSED", 1024)
    with pytest.raises(UserError, match=r"its members would take more than"):
        inspect(bomb)
    monkeypatch.setattr(inspect_mod, "MAX_MEMBERS", 2)
    with pytest.raises(UserError, match=r"3 archive members, more than 2"):
        inspect(good_archive(tmp_path / "many.keras"))


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_command_says_one_line_exits_2_and_writes_nothing(case: str, tmp_path: Path) -> None:
    """`check` on bad input: exit 2, one line naming the file, no report, the user's folder as it was."""
    user = tmp_path / "models"
    user.mkdir()
    make, message = BAD[case]
    path = make(user)
    before = sorted((p.relative_to(user), p.stat().st_mtime_ns) for p in user.rglob("*"))
    report = ROOT / "check" / f"{path.name}.md"
    existed = report.exists()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "check", str(path), "--json", str(user / "out.json")],
        cwd=user,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and message in lines[0], lines
    assert sorted((p.relative_to(user), p.stat().st_mtime_ns) for p in user.rglob("*")) == before
    assert report.exists() == existed
