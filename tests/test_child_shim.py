"""The shim route's pieces: the declared table (`causes/shim.toml`) checks and names real causes, each declared
default is what the release that writes the argument writes when left alone, and the child's rewrite in a real
release drops only what that release refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_in_cell

from harness.child.shim import REFUSAL, droppable
from harness.decl import causes, shim
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def test_the_table_loads_and_names_causes_of_the_catalog() -> None:
    table = shim.load().arguments
    assert {a.name for a in table} >= {"time_major", "input_axes", "output_axes", "quantization_config", "optional"}
    assert {a.cause for a in table} <= {c.id for c in causes.load()}
    assert all(a.why for a in table)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[argument]]\nname = "x"\noff = "nul"\ncause = "keras2-time-major"\nwhy = "w"', "off must be JSON"),
        ('[[argument]]\nname = "x"\noff = "null"\ncause = "no-such"\nwhy = "w"', "no cause 'no-such'"),
        ('[[argument]]\nname = "x"\noff = "null"\ncause = "keras2-time-major"\nwhy = "w"\ncolour = 1', "colour"),
        ('[[argument]]\nname = "x"\ncause = "keras2-time-major"\nwhy = "w"', "missing field off"),
        ('[[rename]]\nname = "A"\ncause = "keras2-time-major"\nwhy = "w"', "missing field to"),
        ('[[renames]]\nname = "A"', "unknown table(s) renames"),
    ],
)
def test_a_bad_table_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "shim.toml").write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as err:
        shim.load(tmp_path / "shim.toml")
    assert says in str(err.value) and "\n" not in str(err.value)


def test_only_a_declared_argument_at_its_default_is_dropped() -> None:
    table = shim.request()
    assert droppable(table, "LSTM", "time_major", False)
    assert not droppable(table, "LSTM", "time_major", True)  # time-major inputs: dropping it would change the model
    assert not droppable(table, "Dense", "time_major", False)  # declared for the RNN layers only
    assert not droppable(table, "InputLayer", "optional", 0)  # 0 is not False
    assert droppable(table, "GlorotUniform", "input_axes", None)
    assert not droppable(table, "InputLayer", "batch_shape", [None, 12, 4])


def test_the_refusal_messages_name_the_argument() -> None:
    for message, name in [
        ("Unrecognized keyword arguments passed to LSTM: {'time_major': False}", "time_major"),
        ("GlorotUniform.__init__() got an unexpected keyword argument 'input_axes'", "input_axes"),
        ("Unrecognized keyword arguments: ['batch_shape', 'optional']", "optional"),
        ("Unrecognized keyword argument(s): {'oov_method': 'floormod', 'salt': None}", "salt"),
    ]:
        said = " ".join(m.group(1) for m in REFUSAL.finditer(message))
        assert f"'{name}'" in said, message
    config_dump = "Could not deserialize class 'Dense' with config={'name': 'dense', 'units': 1}"
    assert not REFUSAL.search(config_dump)  # a message quoting the whole config names no refused argument


# The release that writes each declared argument, and a layer (or initializer) of it built with defaults only.
WRITERS = {
    "tf2.15.1-keras2.15.0": {
        "time_major": ["LSTM(2)", "GRU(2)", "SimpleRNN(2)"],
        "input_length": ["Embedding(3, 2)"],
        "trainable": ["Discretization(bin_boundaries=[0.0])"],
    },
    "tf2.21.0-keras3.15.1": {
        "input_axes": ["initializers.GlorotUniform()"],
        "output_axes": ["initializers.GlorotUniform()"],
        "quantization_config": ["Dense(2)", "Embedding(3, 2)"],
        "oov_method": ["IntegerLookup(vocabulary=[1, 2])", "StringLookup(vocabulary=['a', 'b'])"],
        "salt": ["IntegerLookup(vocabulary=[1, 2])", "StringLookup(vocabulary=['a', 'b'])"],
    },
    "tf2.21.0-tfkeras2.21.0": {"optional": ["InputLayer(input_shape=(2,))"]},
}
CONFIGS = """
import json, os, sys
from harness.child.stack import import_stack
keras = import_stack(os.environ["MASKCOMPAT_FLAVOR"], os.environ.get("KERAS_BACKEND", "tensorflow")).keras
layers, initializers = keras.layers, keras.initializers
wanted = json.loads(sys.argv[1])
found = {}
for name, makers in wanted.items():
    for maker in makers:
        made = eval(maker if maker.startswith("initializers.") else "layers." + maker)
        found[f"{name} in {maker}"] = made.get_config().get(name, "<not written>")
print(json.dumps(found))
"""


@pytest.mark.integration
@pytest.mark.parametrize("cell_id", list(WRITERS))
def test_each_declared_default_is_what_the_writing_release_writes(cell_id: str) -> None:
    found = json.loads(run_in_cell(cell_id, CONFIGS, json.dumps(WRITERS[cell_id])))
    off = {a.name: a.off for a in shim.load().arguments}
    for where, value in found.items():
        assert value == off[where.split(" in ")[0]], (cell_id, where, value)
