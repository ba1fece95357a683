"""The one parent loop around a child, driven with a fake child (a script that speaks the protocol; no framework).

A child that answers, crashes, hangs, fails to import or dies while importing: each gives the parent the
fields of one row, and a lost child costs only its own request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write_fake_python

from harness.runner.child import Launch, Session

FAKE = """#!{python}
import json, os, signal, sys, time
reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w")
def send(msg):
    reply.write(json.dumps(msg) + "\\n"); reply.flush()
start = os.environ.get("FAKE_START", "ready")
if start == "import_error":
    send({{"type": "import_error", "versions": {{"keras": "3.15.1"}}, "error_type": "ModuleNotFoundError",
           "error_message": "No module named 'jax'"}})
    sys.exit(3)
if start == "die":
    print("segfault while importing", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
if start == "hang":
    time.sleep(3600)
assert sys.argv[1:] == ["-m", "harness.child", "cases"], sys.argv
send({{"type": "ready", "versions": {{"keras": "3.15.1"}}, "python": "3.11.7", "device": "cpu"}})
for line in sys.stdin:
    req = json.loads(line)
    send({{"type": "stage", "name": "build"}})
    if req["do"] == "crash":
        print("the last words of a crashing child", flush=True)
        os.kill(os.getpid(), signal.SIGABRT)
    if req["do"] == "hang":
        send({{"type": "stage", "name": "load"}})
        time.sleep(3600)
    send({{"type": "result", "outcome": "ok", "pid": os.getpid()}})
"""


@pytest.fixture()
def fake_python(tmp_path: Path) -> str:
    return write_fake_python(tmp_path, FAKE)


def session(fake_python: str, tmp_path: Path, start: str = "ready", startup_timeout: float = 60.0) -> Session:
    env = {"PATH": os.environ.get("PATH", ""), "FAKE_START": start}
    return Session(Launch(fake_python, "cases", env, tmp_path, "fake", startup_timeout))


def test_answers_come_back_from_one_child(fake_python: str, tmp_path: Path) -> None:
    s = session(fake_python, tmp_path)
    first, second = s.ask({"do": "answer"}, 60), s.ask({"do": "answer"}, 60)
    s.close()
    assert first.answer is not None and second.answer is not None
    assert first.answer["outcome"] == "ok" and first.answer["pid"] == second.answer["pid"]  # one child served both
    assert first.ready["device"] == "cpu" and s.starts == 1


def test_a_crash_costs_one_request_and_the_next_gets_a_new_child(fake_python: str, tmp_path: Path) -> None:
    s = session(fake_python, tmp_path)
    crashed = s.ask({"do": "crash"}, 60)
    after = s.ask({"do": "answer"}, 60)
    s.close()
    assert crashed.answer is None and crashed.lost is not None
    assert crashed.lost["outcome"] == "crash" and crashed.lost["failed_stage"] == "build"
    assert crashed.lost["error_type"] == "WorkerCrashed" and "code -6" in crashed.lost["error_message"]
    assert "the last words of a crashing child" in crashed.lost["error_message"]
    assert after.answer is not None and after.answer["outcome"] == "ok" and s.starts == 2


def test_a_hang_is_a_timeout_at_the_stage_reached(fake_python: str, tmp_path: Path) -> None:
    s = session(fake_python, tmp_path)
    hung = s.ask({"do": "hang"}, 3)
    after = s.ask({"do": "answer"}, 60)
    s.close()
    assert hung.lost == {
        "outcome": "timeout",
        "failed_stage": "load",
        "error_type": "Timeout",
        "error_message": "no answer within 3s",
    }
    assert after.answer is not None and s.starts == 2


def test_a_stack_that_fails_to_import_fails_every_request_without_retrying(fake_python: str, tmp_path: Path) -> None:
    s = session(fake_python, tmp_path, "import_error")
    replies = [s.ask({"do": "answer"}, 60) for _ in range(3)]
    assert s.starts == 1
    for reply in replies:
        assert reply.answer is None and reply.lost is not None
        assert (reply.lost["outcome"], reply.lost["failed_stage"]) == ("fail", "import")
        assert reply.lost["error_type"] == "ModuleNotFoundError" and "jax" in reply.lost["error_message"]
        assert reply.ready["versions"] == {"keras": "3.15.1"}


@pytest.mark.parametrize(
    ("start", "outcome", "error_type", "message"),
    [
        ("die", "crash", "WorkerCrashed", "exited with code -11 while importing: segfault while importing"),
        ("hang", "timeout", "WorkerHung", "did not finish importing in 1s"),
    ],
)
def test_a_child_lost_while_importing_is_an_import_row(
    fake_python: str, tmp_path: Path, start: str, outcome: str, error_type: str, message: str
) -> None:
    s = session(fake_python, tmp_path, start, startup_timeout=1.0)
    reply = s.ask({"do": "answer"}, 60)
    assert reply.lost is not None and (reply.lost["outcome"], reply.lost["failed_stage"]) == (outcome, "import")
    assert reply.lost["error_type"] == error_type and message in reply.lost["error_message"]
    assert s.ask({"do": "answer"}, 60).lost == reply.lost and s.starts == 1
