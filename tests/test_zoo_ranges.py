"""Each zoo kind's verdict on real pairs, held against loading the files by hand.

The saving cell builds every kind with the zoo's kits and saves it as `.keras` with its inputs and outputs;
the loading cell then loads each file with plain `load_model` (the zoo's own classes registered, as the user's
code would be imported) and predicts. For every kind, the committed upgrade row of that pair must agree: `ok`
where the file loads by hand and predicts the same, not `ok` where it does not. The compiled model is held to
one training step by hand instead: the same loss and weights after it as the saving cell's model after the same step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_in_cell

from harness.decl import cells, registry, scenarios
from harness.readers.sections import upgrade_paths
from harness.store import rowfiles

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [("tf2.15.1-keras2.15.0", "tf2.21.0-keras3.15.1"), ("tf2.21.0-keras3.15.1", "tf2.19.1-keras3.8.0")]

SAVE = """
import json, os, sys
import numpy as np
from harness.child import zoo
from harness.child.stack import import_stack
stack = import_stack(os.environ["MASKCOMPAT_FLAVOR"], os.environ.get("KERAS_BACKEND", "tensorflow"))
out, done = sys.argv[1], {}
for kind in zoo.KITS:
    cfg = {"batch": 4, "seed": 0}
    try:
        model = zoo.build(stack, cfg, {"kind": kind})
        x = zoo.batch(stack, cfg, {"kind": kind})
        xs = [np.asarray(v) for v in (x if isinstance(x, list) else [x])]
        xs = [v.astype("S").astype("U") if v.dtype == object else v for v in xs]  # strings, storable without pickle
        model.save(f"{out}/{kind}.keras")
        if kind == "compiled":  # the step after saving: its loss, then every weight
            model.reset_metrics()
            loss = model.train_on_batch(x, np.tanh(xs[0].sum(axis=1, keepdims=True)))
            y = [np.atleast_1d(np.float64(loss))] + [np.asarray(w) for w in model.get_weights()]
        else:
            y = model.predict(x, verbose=0)
            y = y if isinstance(y, list) else [y]
        outs = {f"out_{i}": np.asarray(v) for i, v in enumerate(y)}
        np.savez(f"{out}/{kind}.npz", *[np.asarray(v) for v in xs], **outs)
        done[kind] = True
    except Exception as exc:
        done[kind] = f"{type(exc).__name__}: {exc}"[:200]
print(json.dumps(done))
"""

BY_HAND = """
import json, os, sys
import numpy as np
from harness.child import zoo
from harness.child.stack import import_stack
stack = import_stack(os.environ["MASKCOMPAT_FLAVOR"], os.environ.get("KERAS_BACKEND", "tensorflow"))
zoo.register(stack)  # the user's own classes, imported by the user's code
keras, found = stack.keras, {}
for kind in json.loads(sys.argv[2]):
    try:
        data = np.load(f"{sys.argv[1]}/{kind}.npz", allow_pickle=False)
        xs = [data[k] for k in sorted(k for k in data.files if k.startswith("arr_"))]
        want = [data[k] for k in sorted((k for k in data.files if k.startswith("out_")), key=lambda k: int(k[4:]))]
        if stack.tf is not None and xs[0].dtype.kind in "US":
            xs = [stack.tf.constant(x) for x in xs]
        model = keras.models.load_model(f"{sys.argv[1]}/{kind}.keras")
        if kind == "compiled":
            model.reset_metrics()
            loss = model.train_on_batch(xs[0], np.tanh(xs[0].sum(axis=1, keepdims=True)))
            got = [np.atleast_1d(np.float64(loss))] + [np.asarray(w) for w in model.get_weights()]
        else:
            got = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
            got = got if isinstance(got, list) else [got]
        same = len(got) == len(want) and all(
            np.shape(g) == np.shape(w) and np.allclose(g, w, rtol=1e-5, atol=1e-6) for g, w in zip(got, want))
        found[kind] = "ok" if same else "differs"
    except Exception as exc:
        found[kind] = f"{type(exc).__name__}: {exc}"[:200]
print(json.dumps(found))
"""


@pytest.mark.integration
@pytest.mark.parametrize(("saver", "loader"), PAIRS)
def test_each_kind_s_committed_verdict_holds_when_loaded_by_hand(saver: str, loader: str, tmp_path: Path) -> None:
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    saved = json.loads(run_in_cell(saver, SAVE, str(tmp_path)))
    kinds = [k for k, v in saved.items() if v is True]
    by_hand = json.loads(run_in_cell(loader, BY_HAND, str(tmp_path), json.dumps(kinds)))
    scens = scenarios.load_all(ROOT / "scenarios")
    up = next(s for s in scens if s.handler == "upgrade")
    rows = [r for r in rowfiles.read_all(ROOT / "results") if r["scenario"] == "upgrade" and r["cell_id"] == loader]
    df = upgrade_paths.frame(rows, matrix, up)
    pair = df[(df["saved_by"] == saver) & (df["loaded_by"] == loader)].set_index("source")["text"]
    assert len(kinds) >= 15 and set(kinds) <= set(registry.ZOO_KINDS)
    for kind in kinds:
        row = pair[f"zoo/{kind}:.keras"]
        assert (row == "ok") == (by_hand[kind] == "ok"), (kind, row, by_hand[kind])
