"""The address of a saved model: what a loader reads, in a canonical form.

The canonical config is pure JSON (tested here); the whole-file hashes need h5py and a real save, so they
run in a real cell (`test_two_saves_of_one_model_share_an_address`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.child.filehash import canonical_config

ROOT = Path(__file__).resolve().parent.parent


def test_shared_object_ids_are_renumbered_in_order_of_appearance() -> None:
    a = {"layers": [{"shared_object_id": 140388555217552}, {"x": {"shared_object_id": 7}}, {"shared_object_id": 7}]}
    b = {
        "layers": [
            {"shared_object_id": 99},
            {"x": {"shared_object_id": 140047160030064}},
            {"shared_object_id": 140047160030064},
        ]
    }
    assert canonical_config(json.dumps(a)) == canonical_config(json.dumps(b))
    assert json.loads(canonical_config(json.dumps(a))) == {
        "layers": [{"shared_object_id": 0}, {"x": {"shared_object_id": 1}}, {"shared_object_id": 1}]
    }
    other = {"layers": [{"shared_object_id": 1}, {"x": {"shared_object_id": 2}}, {"shared_object_id": 3}]}
    assert canonical_config(json.dumps(other)) != canonical_config(json.dumps(a))  # the sharing itself counts
    assert canonical_config(b"not json") == b"not json"


SAVE_TWICE = """
import json, sys, time
from pathlib import Path
import keras, numpy as np
from harness.child.filehash import content_hash
out = Path(sys.argv[1])
def save(name, seed):
    keras.backend.clear_session()  # layer names restart, as in a fresh process
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((12, 4)), keras.layers.Masking(0.0), keras.layers.LSTM(8), keras.layers.Dense(1)])
    m.save(out / name)
    return content_hash(out / name)
a = save("a.keras", 0); time.sleep(1.1); b = save("b.keras", 0); c = save("c.keras", 1)
h = save("a.h5", 0); time.sleep(1.1); i = save("b.h5", 0)
print(json.dumps([a, b, c, h, i]))
"""


@pytest.mark.integration
def test_two_saves_of_one_model_share_an_address(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    """Saved at different times, with different object ids: one address; other weights: another."""
    python = cell_python("tf2.21.0-keras3.15.1")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([str(python), "-c", SAVE_TWICE, str(tmp_path)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b, c, h, i = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / "a.keras").read_bytes() != (tmp_path / "b.keras").read_bytes()  # the date differs
    assert a == b and a != c
    assert h == i and h != a
