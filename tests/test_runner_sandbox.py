"""The sandbox `check` loads untrusted files in, tried with plain Python children on this machine's real kernel.

Each child is a few lines of Python that attack the sandbox the way code in a model file could: connect to a
listener on the loopback address, write outside its folder, read a file in the user's HOME, read a secret from
the environment, change its read-only input, and go over each limit. No framework is needed for that: the
sandbox is the same for every child (`harness.runner.sandbox`, `harness.child.limits`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.runner import envs, sandbox

ROOT = Path(__file__).resolve().parent.parent
PRELUDE = "import os, sys\nfrom harness.child import limits\nlimits.apply()\n"


def needs_bwrap() -> None:
    """Under CI a machine without bubblewrap fails here, in one line; elsewhere these tests skip."""
    iso = sandbox.probe()
    if iso.tool != "bwrap":
        reason = f"no complete sandbox on this machine: {iso.why_not} (.ci/run installs bubblewrap)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture()
def box() -> Iterator[sandbox.Sandbox]:
    needs_bwrap()
    made = sandbox.Sandbox.make("maskcompat-test-", sandbox.Limits(memory=1 << 30, cpu=3, file_size=1 << 20,
                                                                   processes=64, wall=60))  # fmt: skip
    yield made
    made.close()


def run(box: sandbox.Sandbox, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A Python child in the sandbox, as the runner starts one: allow-listed environment, wrapped command."""
    base = {**os.environ, **env, "PYTHONPATH": str(ROOT)}  # the whole environment: the sandbox must cut it
    argv = box.command([sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
                       envs.reads(envs.this_interpreter()))  # fmt: skip
    return subprocess.run(argv, env=box.env(base), capture_output=True, text=True, timeout=120)


def test_the_network_cannot_be_reached(box: sandbox.Sandbox) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        proc = run(box, f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=5)
                print("connected")
            except OSError as exc:
                print("refused", exc)
        """)  # fmt: skip
        with pytest.raises(TimeoutError):
            listener.accept()
    assert proc.stdout.startswith("refused"), proc.stdout + proc.stderr
    assert "none: a new, empty network namespace" in box.statement()["network"]


def test_only_its_own_folder_is_writable_and_home_is_hidden(box: sandbox.Sandbox, tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    secret = Path(home, f".maskcompat-test-secret-{os.getpid()}")
    secret.write_text("do not read")
    try:
        proc = run(box, f"""
            from pathlib import Path
            for target in [{str(tmp_path / "outside")!r}, {str(ROOT / "outside")!r}, "/usr/outside"]:
                try:
                    Path(target).write_text("x")
                    print("wrote", target)
                except OSError as exc:
                    print("refused", exc.errno)
            Path(os.environ["HOME"], "marker").write_text("x")
            Path("marker").write_text("x")
            print("secret", Path({str(secret)!r}).exists())
            print("home", os.environ["HOME"], "cwd", os.getcwd())
        """)  # fmt: skip
    finally:
        secret.unlink()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["refused"] * 3, lines
    assert not (tmp_path / "outside").exists() and not (ROOT / "outside").exists()
    assert "secret False" in lines
    assert f"home {box.root / 'home'} cwd {box.root / 'work'}" in lines
    assert box.written() == ["home/marker", "work/marker"]


def test_secrets_in_the_environment_do_not_reach_it(box: sandbox.Sandbox) -> None:
    proc = run(box, "print(sorted(os.environ))", AWS_SECRET_ACCESS_KEY="hunter2", GITHUB_TOKEN="ghp_x")
    seen = eval(proc.stdout)
    assert "AWS_SECRET_ACCESS_KEY" not in seen and "GITHUB_TOKEN" not in seen
    assert {"HOME", "TMPDIR", "PATH", "MASKCOMPAT_LIMITS"} <= set(seen)


def test_its_copy_of_the_file_is_read_only(box: sandbox.Sandbox, tmp_path: Path) -> None:
    (tmp_path / "model.keras").write_bytes(b"PK original")
    copy = box.take(tmp_path / "model.keras")
    box.seal()
    proc = run(box, f"""
        try:
            open({str(copy)!r}, "wb").write(b"changed")
        except OSError as exc:
            print("refused", exc.errno)
        try:
            os.chmod({str(copy)!r}, 0o666)
        except OSError as exc:
            print("refused", exc.errno)
    """)  # fmt: skip
    assert proc.stdout.split() == ["refused", "30", "refused", "30"], proc.stdout + proc.stderr  # EROFS
    assert copy.read_bytes() == b"PK original"


def test_cpu_time_over_the_limit_is_named(box: sandbox.Sandbox) -> None:
    proc = run(box, "while True:\n    pass\n")
    assert box.explain(proc.returncode, proc.stderr) == "went over the sandbox's limit of 3 s of CPU time"


def test_memory_over_the_limit_is_named(box: sandbox.Sandbox) -> None:
    proc = run(box, "block = bytearray(2 << 30)\n")
    assert "MemoryError" in proc.stderr
    assert box.explain(proc.returncode, proc.stderr) == "went over the sandbox's limit of 1 GiB of memory"


def test_a_file_over_the_size_limit_is_named(box: sandbox.Sandbox) -> None:
    proc = run(box, "open('big', 'wb').write(bytes(2 << 20))\n")
    assert "File too large" in proc.stderr
    assert box.explain(proc.returncode, proc.stderr) == "went over the sandbox's limit of 1 MiB per written file"
    assert (box.root / "work" / "big").stat().st_size <= 1 << 20


def test_too_many_processes_are_refused_and_named(box: sandbox.Sandbox) -> None:
    if box.isolation.pids == "":
        pytest.skip(f"processes are not limited here: {box.statement()['limits']}")
    proc = run(box, """
        import threading, time
        started = []
        for _ in range(200):
            t = threading.Thread(target=time.sleep, args=(5,), daemon=True)
            t.start()
            started.append(t)
    """)  # fmt: skip
    assert proc.returncode != 0 and "can't start new thread" in proc.stderr, proc.stderr[-500:]
    assert box.explain(proc.returncode, proc.stderr) == "went over the sandbox's limit of 64 processes and threads"


def test_limits_parse_and_bad_ones_are_one_line() -> None:
    limits = sandbox.parse_limit("memory=4G", sandbox.Limits())
    limits = sandbox.parse_limit("cpu=60", sandbox.parse_limit("file-size=100M", limits))
    assert (limits.memory, limits.cpu, limits.file_size) == (4 << 30, 60, 100 << 20)
    for bad in ("memory", "swap=1G", "cpu=1G", "memory=-1", "processes=many"):
        with pytest.raises(UserError, match=r"--limit"):
            sandbox.parse_limit(bad, limits)


def test_the_statement_is_plain_where_nothing_isolates() -> None:
    bare = sandbox.Sandbox(Path("/nonexistent"), isolation=sandbox.Isolation("", False, False, "no tools here"))
    said = bare.statement()
    assert said["network"] == "NOT isolated: no tools here"
    assert said["file system"].startswith("NOT isolated")
    assert bare.command(["python"], []) == ["python"]


def test_trust_needs_a_complete_sandbox(tmp_path: Path) -> None:
    """Without bubblewrap and unshare on PATH, `check --trust` stops in one line before reading anything."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "check", str(tmp_path / "m.keras"), "--trust"],
        env={"PATH": str(tmp_path), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: --trust runs code from the file") and "bubblewrap (bwrap) is not installed" in line
    assert list(tmp_path.iterdir()) == []
