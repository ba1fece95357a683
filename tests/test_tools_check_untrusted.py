"""`check` on files built to attack it: nothing in them runs outside the sandbox, on every default cell.

The proof-of-concept files (`tests/untrusted.py`) are built here in real pinned cells. Their payload writes a
marker outside any sandbox, to HOME, the working folder and TMPDIR, and connects to a listener on the loopback
address. Checked against every default cell, each target must refuse the file (this check's refusal, or the
release's own safe mode) and the payload must never run; with `--trust` it runs, and everything it does stays
in the sandbox's folder. A listing of the writable places (HOME, the temporary folders, shared memory, the
repository, the cells' environments) before and after shows that nothing outside the sandboxes' folders
changed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import untrusted

from harness.decl import cells
from harness.runner import envs, sandbox
from harness.tools.inspect import inspect

ROOT = Path(__file__).resolve().parent.parent
ISSUE_FILES = ["lambda.h5", "nested-lambda.keras", "outside.keras", "writefile-savedmodel"]
SECRET = {"AWS_SECRET_ACCESS_KEY": "do-not-leak", "GITHUB_TOKEN": "ghp_do_not_leak"}


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A listener on the loopback address that no sandboxed child may reach."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.setblocking(False)
        yield s


def connections(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.fixture(scope="module")
def pocs(tmp_path_factory: pytest.TempPathFactory, listener: socket.socket) -> tuple[dict[str, Path], Path]:
    """The files, and the path outside every sandbox their payload aims at."""
    if sandbox.probe().tool != "bwrap" and not os.environ.get("CI"):
        pytest.skip(f"no complete sandbox here: {sandbox.probe().why_not}")
    folder = tmp_path_factory.mktemp("untrusted")
    outside = tmp_path_factory.mktemp("outside") / untrusted.MARKER
    files = untrusted.build(folder, outside, listener.getsockname()[1], ISSUE_FILES)
    assert not outside.exists() and connections(listener) == 0, "the payload must be inert while building"
    return files, outside


def run_check(path: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """`python -m harness check` with secrets in its environment; exit code, the file's record, stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "check", str(path), "--json", str(out / "check.json"),
         "--out", str(out / "check.md"), "--sarif", str(out / "check.sarif"), *extra],
        env={**os.environ, **SECRET, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"},
        capture_output=True, text=True, cwd=out,
    )  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((out / "check.json").read_text())["files"][0], proc.stdout


def writable_places() -> list[Path]:
    """Where a process of this user writes by default or by name: HOME, the temporary folders, shared memory,
    this repository and the cells' environments (a backdoor there would outlive the check)."""
    places = [Path.home(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), ROOT, envs.envs_root()]
    found: list[Path] = []
    for p in sorted({q.resolve() for q in places if q.is_dir()}, key=lambda q: len(q.parts)):
        if not any(p == f or f in p.parents for f in found):
            found.append(p)
    return found


def snapshot() -> dict[str, tuple[int, int]]:
    """Every file, link and folder in the writable places, with its modification time and size (not the change
    time: installing a cell hard-links uv's cache, which changes the change time of every link)."""
    found: dict[str, tuple[int, int]] = {}
    for top in writable_places():
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except FileNotFoundError:
                    continue
                found[p] = (0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns, st.st_size)
    return found


def within(path: str, folders: list[Path]) -> bool:
    return any(path == str(f) or path.startswith(str(f) + os.sep) for f in folders)


@pytest.mark.integration
def test_the_static_pass_names_each_attack(pocs: tuple[dict[str, Path], Path]) -> None:
    files, _ = pocs
    kinds = {name: [(r.kind, r.detail) for r in inspect(files[name]).risks] for name in ISSUE_FILES}
    assert [k for k, _ in kinds["lambda.h5"]] == ["lambda-code"]
    (nested,) = inspect(files["nested-lambda.keras"]).risks
    assert nested.kind == "lambda-code" and "/config/layer/" in nested.where  # inside the TimeDistributed
    assert kinds["outside.keras"] == [("outside-module", "function os.system")]
    assert [k for k, _ in kinds["writefile-savedmodel"]] == ["graph-op"]
    assert "the op WriteFile" in kinds["writefile-savedmodel"][0][1]


@pytest.mark.integration
def test_no_default_cell_runs_them_and_nothing_outside_the_sandboxes_changes(
    pocs: tuple[dict[str, Path], Path], listener: socket.socket, tmp_path: Path, sarif_validator: Any
) -> None:
    files, outside = pocs
    for cell in cells.load(ROOT / "cells" / "cells.toml").cells:  # installing links uv's cache: not in the window
        if cell.default:
            envs.install(cell, check=True)
    for name in ISSUE_FILES:  # warm: the parent's own imports compile before the snapshot
        subprocess.run([sys.executable, "-m", "harness", "check", str(files[name]), "--static"], cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=False)  # fmt: skip
    before = snapshot()
    records, kept = {}, []
    for name in ISSUE_FILES:
        out = tmp_path / name
        out.mkdir()
        code, record, _ = run_check(files[name], out, "--all", "--keep-sandbox")
        records[name] = (code, record, out)
        kept += [Path(t["sandbox_kept"]) for t in record["targets"] if t["sandbox_kept"]]
    after = snapshot()
    try:
        changed = sorted(p for p in after if before.get(p) != after[p] and not within(p, [tmp_path, *kept]))
        assert changed == [], changed[:20]
        assert not outside.exists() and connections(listener) == 0
        for name, (code, record, out) in records.items():
            assert code == 3, name
            assert len(record["targets"]) == 32
            risks = {r["kind"] for r in record["risks"]}
            for t in record["targets"]:
                assert not any(w.endswith(untrusted.MARKER) for w in t["written"]), (name, t["cell_id"])
                if t["outcome"] == "skip":  # refused here: the verdict names the finding and the advisory
                    assert t["error_type"] == "Refused" and t["refused_by"], (name, t)
                    assert any(r["detail"] in t["error_message"] for r in record["risks"])
                else:  # loaded in the sandbox: Keras 3 refuses it in safe mode, Keras 2 cannot read a Keras 3 config
                    assert (t["outcome"], t["failed_stage"]) == ("fail", "load"), t
                    assert t["refused_by_release"] or t["keras_flavor"] != "keras3", t
            sarif = json.loads((out / "check.sarif").read_text())
            assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= risks
            sarif_validator.validate(sarif)
    finally:
        for folder in kept:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.integration
def test_trusted_code_stays_in_the_sandbox(
    pocs: tuple[dict[str, Path], Path], listener: socket.socket, tmp_path: Path
) -> None:
    files, outside = pocs
    code, record, _ = run_check(files["lambda.h5"], tmp_path, "--only", "--to", "tf2.15.1-keras2.15.0", "--to",
                                "tf2.20.0-keras3.10.0", "--trust", "--keep-sandbox")  # fmt: skip
    try:
        assert not outside.exists() and connections(listener) == 0
        for t in record["targets"]:  # the payload ran: in HOME, the working folder and TMPDIR, all in the sandbox
            assert t["trusted"] and t["refused_by"], t
            assert t["written"] == [f"{d}/{untrusted.MARKER}" for d in ("home", "tmp", "work")], t
            seen = json.loads((Path(t["sandbox_kept"]) / "home" / untrusted.MARKER).read_text())
            assert not set(SECRET) & set(seen["env"]), "no credential reaches the sandbox"
            assert seen["cwd"] == str(Path(t["sandbox_kept"]) / "work")
            assert t["outcome"] in ("ok", "runs"), t
        assert code in (0, 1)  # nothing refused: it was trusted
    finally:
        for t in record["targets"]:
            shutil.rmtree(t["sandbox_kept"], ignore_errors=True)


@pytest.mark.integration
def test_a_trusted_graph_writes_only_in_the_sandbox(pocs: tuple[dict[str, Path], Path], tmp_path: Path) -> None:
    """Its WriteFile ops aim at the working folder and at the outside path (under /tmp): both land in the sandbox."""
    files, outside = pocs
    np.savez(tmp_path / "in.npz", np.ones((2, 5, 4), "float32"))
    code, record, _ = run_check(files["writefile-savedmodel"], tmp_path, "--only", "--to", "tf2.21.0-keras3.15.1",
                                "--trust", "--keep-sandbox", "--inputs", str(tmp_path / "in.npz"))  # fmt: skip
    (t,) = record["targets"]
    try:
        inside = "tmp/" + str(outside.relative_to("/tmp"))  # the sandbox's own tmp/ is the /tmp its graph sees
        assert t["written"] == sorted([inside, f"work/{untrusted.MARKER}"]) and not outside.exists(), t
        assert (t["outcome"], t["trusted"]) == ("runs", True) and code == 1
    finally:
        shutil.rmtree(t["sandbox_kept"], ignore_errors=True)


@pytest.mark.integration
@pytest.mark.parametrize(("limit", "named"), [("cpu=1", "1 s of CPU time"), ("wall=1", "1 s of wall-clock time")])
def test_a_child_over_a_limit_is_a_fail_naming_it(
    pocs: tuple[dict[str, Path], Path], tmp_path: Path, limit: str, named: str
) -> None:
    files, _ = pocs
    code, record, stdout = run_check(files["nested-lambda.keras"], tmp_path, "--only", "--to",
                                     "tf2.21.0-keras3.15.1", "--limit", limit)  # fmt: skip
    (t,) = record["targets"]
    assert (t["outcome"], t["error_type"]) == ("fail", "SandboxLimit"), t
    assert t["limit"] == f"went over the sandbox's limit of {named}" and named in stdout
    assert code == 1
