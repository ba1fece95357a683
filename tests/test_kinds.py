"""A new kind of measurement added from the test's own files, run end to end through `matrix` with no module of the
harness changed: a child handler, its runner part and its reader section, named in a kinds file
(`MASKCOMPAT_KINDS`, `harness.decl.kinds`), and a scenario that names its builder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.decl import kinds
from harness.errors import UserError
from harness.runner import fingerprint

ROOT = Path(__file__).resolve().parent.parent
CELL = "tf2.21.0-keras3.15.1"

KINDS = """
[[kind]]
name = "echo"
version = 1
measures = "each case's word, upper-cased by the cell's own Python, beside the Keras version it runs"
child = "echo_child"
part = "echo_part"
section = "echo_section"
path = "."
builder = { name = "echo", params = { word = ["hello", "bye"] }, required = ["word"] }
"""

SCENARIO = """
id = "echo"
title = "Every word, upper-cased in the cell"
builder = "echo"
[model]
[tolerance]
rtol = 0.0
atol = 0.0
[params]
word = ["hello", "bye"]
"""

CHILD = '''
"""The echo kind's child: each case's word upper-cased, and the Keras this cell imported."""


def handle(stack, request, stage):
    stage("echo")
    version = getattr(stack.keras, "__version__", "?")
    return {"cases": {c["case_id"]: {"echo": c["params"]["word"].upper(), "keras_seen": version}
                      for c in request["cases"]}}
'''

PART = '''
"""The echo kind's part: the cases that are not current, one child per cell."""

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.runner import envs
from harness.runner.child import Launch, Session
from harness.store import fresh, rowfiles
from harness.store.rows import make_row

NAME, LABEL, UNIT, PRIOR_S = "echo", "echo", "echoes", 1.0


@dataclass
class Plan:
    todo: list = field(default_factory=list)

    @property
    def units(self):
        return sum(len(cases) for _, cases, _ in self.todo)


def plan(ctx):
    out = Plan()
    for scen in ctx.scens:
        for cell in ctx.cells:
            path = rowfiles.cell_path(ctx.results, ctx.machine_id, cell.id)
            todo = scen.cases() if ctx.opts.fresh else fresh.to_run(path, cell, scen.cases(), {scen.id: scen})
            if todo:
                out.todo.append((cell, todo, scen))
    return out


def measure(run, planned):
    for cell, cases, scen in planned.todo:
        interp = run.interpreter(cell)
        tmp = Path(tempfile.mkdtemp(prefix="echo-"))
        session = Session(Launch(interp.python, "echo", envs.child_env(cell, interp, tmp), tmp, "echo"))
        t0 = time.time()
        reply = session.ask({"cases": [{"case_id": c.case_id, "params": c.params} for c in cases]}, 300)
        session.close()
        answers = (reply.answer or {}).get("cases", {})
        rows = [make_row(cell, scen, c, reply.ready, run.machine, run.opts.invoked, "ok", t0, time.time() - t0,
                         details=answers[c.case_id]) for c in cases]
        rowfiles.upsert(rowfiles.cell_path(run.results, run.machine["id"], cell.id), rows,
                        [(c.scenario, c.case_id) for c in cases])
        run.summary.add("measured", NAME, cell.id)
'''

SECTION = '''
"""The echo kind's reader section: a page of every word as each cell echoed it."""

GRID, LISTED, APART = False, False, True


def page(view, scen, pages, plots, sigs):
    rows = [r for r in view.rows if r["scenario"] == scen.id]
    if not rows:
        return None
    lines = [f"# {scen.title} on `{view.machine_id}`", "", "| cell | word | echo | Keras |", "|---|---|---|---|"]
    lines += [f"| `{r['cell_id']}` | {r['word']} | {r['details']['echo']} | {r['details']['keras_seen']} |"
              for r in sorted(rows, key=lambda r: (r["cell_id"], r["case_id"]))]
    return "\\n".join(lines) + "\\n"


def summarize(out, view, scen, sources):
    pass  # the summary's schema has no place for echoes
'''


@pytest.fixture()
def kind(tmp_path: Path) -> Path:
    """The kinds file, its three modules and a scenario folder with its one scenario."""
    (tmp_path / "kinds.toml").write_text(KINDS)
    for name, text in (("echo_child", CHILD), ("echo_part", PART), ("echo_section", SECTION)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "echo.toml").write_text(SCENARIO)
    return tmp_path


def matrix(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASKCOMPAT_KINDS": str(folder / "kinds.toml")}
    argv = [sys.executable, "-m", "harness", "matrix", "--cell", CELL, "--scenarios", str(folder / "scenarios"),
            "--results", str(folder / "results"), *extra]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, cwd=folder, timeout=900)


@pytest.mark.integration
def test_a_kind_from_outside_runs_end_to_end_through_matrix(kind: Path) -> None:
    first = matrix(kind)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "echo: 1 cells measured, 0 reused, 0 failed" in first.stdout
    machine = fingerprint.machine("cpu")["id"]
    rows = [json.loads(line) for line in (kind / "results" / machine / f"{CELL}.jsonl").read_text().splitlines()]
    assert {(r["word"], r["details"]["echo"], r["measured_by"]) for r in rows} == {
        ("hello", "HELLO", "echo/1"),
        ("bye", "BYE", "echo/1"),
    }
    assert all(r["details"]["keras_seen"] == "3.15.1" and r["outcome"] == "ok" for r in rows)
    page = (kind / "report" / f"echo-{machine}.md").read_text()
    assert f"| `{CELL}` | hello | HELLO | 3.15.1 |" in page
    assert f"echo-{machine}.md" in (kind / "report.md").read_text()  # the report links the section's page
    stored = (kind / "results" / machine / f"{CELL}.jsonl").read_bytes()
    again = matrix(kind, "--no-report")  # current rows: nothing measured, nothing rewritten
    assert again.returncode == 0 and "0 echoes to run" in again.stdout, again.stdout[-2000:]
    assert (kind / "results" / machine / f"{CELL}.jsonl").read_bytes() == stored


def test_a_bad_kinds_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kinds.toml").write_text('[[kind]]\nname = "cases"\nversion = 1\nmeasures = "x"\nchild = "m"\n'
                                         'builder = { name = "b" }\n')  # fmt: skip
    monkeypatch.setenv(kinds.VARIABLE, str(tmp_path / "kinds.toml"))
    with pytest.raises(UserError, match=r"kinds.toml kind 1: 'cases' or builder 'b' is already registered"):
        kinds.load()
    (tmp_path / "other.toml").write_text('[[kind]]\nname = "x"\ncolour = "red"\n')
    monkeypatch.setenv(kinds.VARIABLE, str(tmp_path / "other.toml"))
    with pytest.raises(UserError, match=r"other.toml kind 1: unknown field\(s\) colour"):
        kinds.load()
