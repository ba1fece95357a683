"""Which releases act on the proof-of-concept files when trusted: the evidence behind `security/advisories.toml`.

Builds the files of `tests/untrusted.py`, listens on the loopback address, and checks each file with `--all
--trust --keep-sandbox`: every default cell loads it in its sandbox. A release *acted* on a file when its payload
left a marker in the sandbox (the Lambda files, the SavedModel), when importing `this` printed the Zen of Python
into the child's log, or when a Keras 2 release resolved `os.system` (TensorFlow then refuses to wrap the
builtin: "unsupported callable"). Keras 3.0's Sequential hides why building with `os.system` failed, so
`outside.keras` shows nothing there; `imports-this.keras` is the observable twin. The table sets that
against what the catalog refuses.

    .nox/tests/bin/python experiments/security/trust.py OUT_FOLDER
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import untrusted  # noqa: E402


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    outside = out / "OUTSIDE-marker"
    files = untrusted.build(out, outside, listener.getsockname()[1])
    np.savez(out / "in.npz", np.ones((2, 6, 4), "float32"))
    rows = []
    for name, path in files.items():
        record = out / f"{name}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "check", str(path), "--all", "--trust", "--keep-sandbox",
             "--json", str(record), "--out", str(out / f"{name}.md"), "--inputs", str(out / "in.npz")],
            capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        (out / f"{name}.log").write_text(proc.stdout + proc.stderr)
        for t in json.loads(record.read_text())["files"][0]["targets"]:
            marker = any(w.endswith(untrusted.MARKER) for w in t["written"])
            errors = str(t["error_message"])
            logs = "".join(p.read_text(errors="replace") for p in Path(t["sandbox_kept"] or out).glob("check-*.log"))
            resolved = "The Zen of Python" in logs or ("outside" in name and "unsupported callable" in errors)
            rows.append({"file": name, "cell": t["cell_id"], "keras": t["keras"], "flavor": t["keras_flavor"],
                         "catalog_refuses": bool(t["refused_by"]), "refused_by": t["refused_by"],
                         "acted": marker or resolved, "marker_written_in_sandbox": t["written"],
                         "outcome": t["outcome"], "failed_stage": t["failed_stage"],
                         "error": str(t["error_message"])[:300]})  # fmt: skip
            if t["sandbox_kept"]:
                shutil.rmtree(t["sandbox_kept"], ignore_errors=True)
    try:
        listener.accept()
        connected = True
    except TimeoutError:
        connected = False
    (out / "trust.json").write_text(json.dumps({"rows": rows, "listener_connected": connected,
                                                "outside_marker": outside.exists()}, indent=1) + "\n")  # fmt: skip
    for r in rows:
        flag = (
            "" if r["acted"] == r["catalog_refuses"] else "  <-- " + ("UNDER-REFUSED" if r["acted"] else "over-refused")
        )
        print(f"{r['file']:<22} {r['cell']:<30} acted={r['acted']!s:<5} refused={r['catalog_refuses']!s:<5} "
              f"{r['outcome']}@{r['failed_stage']}{flag}")  # fmt: skip
    print("listener connected:", connected, "| outside marker:", outside.exists())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
