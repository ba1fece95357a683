"""The one parent loop around a child: start it in a cell's interpreter, ask, and turn a lost child into fields.

A `Session` serves requests with one child process (`python -m harness.child HANDLER`, see
`harness.child.serve`), started on first use with an explicit environment. A child that crashes or hangs
costs only the request it was serving: the reply carries `crash` or `timeout` fields with the stage it
had reached, and the next request starts a new child. A stack that fails to import is remembered: every
later request gets the same `import` failure without another try.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT_S = 600.0
IMPORT_ERROR_KEYS = ("error_type", "error_message", "error_cause_type", "error_cause_message", "traceback_tail")
GONE_GRACE_S = 5.0  # a child whose pipe closed is ending: wait this long for its own exit status


class ChildGone(Exception):
    """The child ended without answering."""


class ChildHung(Exception):
    """The child did not answer within the timeout."""


class Child:
    """One child process in a cell's interpreter, reading requests on stdin, answering on a pipe."""

    def __init__(
        self, python: str, handler: str, env: dict[str, str], log: Path, cwd: Path, prefix: tuple[str, ...] = ()
    ) -> None:
        read_fd, write_fd = os.pipe()
        self.log = log
        self._log_fh = log.open("ab")
        self.proc = subprocess.Popen(
            [*prefix, python, "-m", "harness.child", handler],
            stdin=subprocess.PIPE,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            env={**env, "MASKCOMPAT_RESULT_FD": str(write_fd)},
            cwd=cwd,
            start_new_session=True,
        )
        os.close(write_fd)
        self._fd = read_fd
        self._buf = b""
        self.stage: str | None = None

    def send(self, request: dict[str, Any]) -> None:
        """Write one request line; a dead child raises ChildGone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ChildGone() from None

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message that is not a stage message; stage messages update `self.stage`."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("type") == "stage":
                    self.stage = msg["name"]
                    continue
                return dict(msg)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChildHung()
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise ChildGone()
                self._buf += chunk

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the child's stdout/stderr, for crash rows."""
        try:
            return self.log.read_bytes()[-chars:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self, kill: bool = False, grace: float = 0.0) -> int | None:
        """Stop the child (politely unless `kill`; a killed one gets `grace` seconds to end by itself, so that its
        own exit status, not our SIGKILL, is what it reports) and return its exit code."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            if kill and grace:
                self.proc.wait(timeout=grace)
        try:
            if kill:  # the whole group, even when its leader has ended: nothing it started outlives it
                os.killpg(self.proc.pid, signal.SIGKILL)
            elif self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, ProcessLookupError, OSError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self._fd)
        self._log_fh.close()
        return self.proc.returncode


@dataclass(frozen=True)
class Launch:
    """How to start a child: interpreter, handler, explicit environment, a private folder for logs and temp, and
    a command that wraps the child (a sandbox's)."""

    python: str
    handler: str
    env: dict[str, str]
    tmp: Path
    name: str = "child"
    startup_timeout: float = STARTUP_TIMEOUT_S
    prefix: tuple[str, ...] = ()


@dataclass
class Reply:
    """What the parent learned from one request: the child's `ready`, its answer, or why there is none."""

    ready: dict[str, Any]
    answer: dict[str, Any] | None = None
    lost: dict[str, Any] | None = None


@dataclass
class Session:
    """Requests served in turn by one child, started on demand and replaced after it is lost."""

    launch: Launch
    child: Child | None = None
    ready: dict[str, Any] = field(default_factory=dict)
    import_failure: dict[str, Any] | None = None
    starts: int = 0
    started_s: float = 0.0
    exit_code: int | None = None  # of the last child lost (a signal as a negative number, or 128 + it via a wrapper)

    def _start(self) -> None:
        """Start a child and wait until it has imported the stack (or remember why it could not)."""
        self.starts += 1
        log = self.launch.tmp / f"{self.launch.name}-{self.starts}.log"
        launch = self.launch
        child = Child(launch.python, launch.handler, launch.env, log, launch.tmp, launch.prefix)
        t0 = time.time()
        try:
            msg = child.receive(self.launch.startup_timeout)
        except (ChildGone, ChildHung) as exc:
            hung = isinstance(exc, ChildHung)
            code = self.exit_code = child.close(kill=True, grace=0.0 if hung else GONE_GRACE_S)
            self.import_failure = {
                "outcome": "timeout" if hung else "crash",
                "failed_stage": "import",
                "error_type": "WorkerHung" if hung else "WorkerCrashed",
                "error_message": (
                    f"worker did not finish importing in {self.launch.startup_timeout:.0f}s"
                    if hung
                    else f"worker exited with code {code} while importing: {child.log_tail()}"
                ),
            }
            return
        self.started_s = time.time() - t0
        if msg["type"] == "import_error":
            child.close()
            self.ready = msg
            self.import_failure = {
                "outcome": "fail",
                "failed_stage": "import",
                **{k: msg[k] for k in IMPORT_ERROR_KEYS if k in msg},
            }
            return
        self.ready = msg
        self.child = child

    def ask(self, request: dict[str, Any], timeout: float) -> Reply:
        """Send one request and wait for its answer; a lost child costs only this request."""
        if self.child is None and self.import_failure is None:
            self._start()
        if self.child is None:
            return Reply(self.ready, lost=dict(self.import_failure or {}))
        child = self.child
        child.stage = None
        try:
            child.send(request)
            return Reply(self.ready, answer=child.receive(timeout))
        except (ChildGone, ChildHung) as exc:
            hung = isinstance(exc, ChildHung)
            code = self.exit_code = child.close(kill=True, grace=0.0 if hung else GONE_GRACE_S)
            self.child = None
            return Reply(
                self.ready,
                lost={
                    "outcome": "timeout" if hung else "crash",
                    "failed_stage": child.stage,
                    "error_type": "Timeout" if hung else "WorkerCrashed",
                    "error_message": (
                        f"no answer within {timeout:g}s"
                        if hung
                        else f"worker exited with code {code}: {child.log_tail()}"
                    ),
                },
            )

    def close(self) -> None:
        """Let the child finish (stdin closed) and reap it."""
        if self.child is not None:
            self.child.close()
            self.child = None
