"""The markdown report of `check` and its one-line verdict: what the file is, what in it is known to break or could
run code, the sandbox the releases loaded it in, and what each release made of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.decl import causes
from harness.decl.advisories import FINDINGS, Entry
from harness.tools import unsafe
from harness.tools.check import FIX, Result, cause_of
from harness.tools.inspect import Inspection

NOXFILE = Path(__file__).resolve().parents[2] / "noxfile.py"

HAZARDS = {
    "tagged-value": "a tensor or array value stored as a tagged dict; on several releases load_model hands the dict "
    "back to the layer",
    "custom-class": "a class whose code is not in the file: a loading release needs it imported and registered",
    "old-module": "module paths of the Keras 2 layout, which Keras 3 cannot resolve",
    "dtype-policy": "dtype policy objects, which releases before Keras 3.4 do not read",
}
KINDS = {
    "keras": "`.keras` archive",
    "h5": "legacy HDF5 (`.h5`) model",
    "savedmodel": "SavedModel folder",
    "weights": "weights-only HDF5 file (no model config: load it into a model built by your code)",
}


def risk_lines(insp: Inspection, catalog: list[Entry]) -> list[str]:
    """One line per risky finding: what it is, where, what it could do, and which releases act on it."""
    out = []
    for r in insp.risks:
        who = unsafe.acting(r, insp.kind, catalog)
        out.append(f"{r.kind}: {r.detail} at {r.where}{f' ({r.layer})' if r.layer else ''}: {FINDINGS[r.kind]}; "
                   + (f"acted on by {'; '.join(who)}" if who else "no release is known to act on it"))  # fmt: skip
    return out


def render(
    insp: Inspection,
    results: list[Result],
    reference: str,
    said: dict[str, str],
    command: str,
    catalog: list[Entry],
    sandbox: dict[str, str],
) -> str:
    """The markdown report: what the file is, what in it breaks or could run, what each target made of it."""
    saved = f"saved by Keras {insp.keras_version}" if insp.keras_version else "saving release not recorded"
    when = f" on {insp.date_saved}" if insp.date_saved else ""
    lines = [
        f"# Check of `{insp.path.name}`",
        "",
        f"`{command}`. A {KINDS[insp.kind]}, {saved}{when}"
        + (f", backend {insp.backend}" if insp.backend else "") + ".",
        "",
        f"**{verdict_line(results)}**",
        "",
        "## What could run while loading",
        "",
    ]  # fmt: skip
    risky = risk_lines(insp, catalog)
    lines += [f"- {_md(line)}" for line in risky] or ["Nothing: no code, no references outside Keras, no pickles, "
                                                       "no file or network access in the file."]  # fmt: skip
    lines += ["", "## What is in the file", ""]
    if not insp.findings:
        lines.append("Nothing the matrix knows to break: no tagged values, no custom classes, no old module paths.")
    for f in insp.findings:
        note = said.get(f.kind, "")
        lines.append(f"- {f.detail} at `{f.where or '/'}`{f' ({f.layer})' if f.layer else ''}: {HAZARDS[f.kind]}"
                     + (f"; {note}." if note else "."))  # fmt: skip
    if "release" in said:
        lines += ["", f"Files of this release: {said['release']}."]
    kinds = [f"- a `{k[4:]}` model: {v}." for k, v in said.items() if k.startswith("zoo:")]
    if kinds:
        lines += ["", "Files of the same kinds (the zoo, `scenarios/zoo.toml`):", "", *kinds]
    lines += ["", "## In each release", "", f"Reference outputs: {reference}.", ""]
    lines += [
        "| cell | why | verdict | max \\|diff\\| | masking | a fix that works there |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        mark = {"ok": "ok", "runs": "runs (not compared)", "mismatch": "≠ outputs"}.get(
            r.outcome, "refused" if r.error_type == "Refused" else f"✗ {r.failed_stage}"
        )
        detail = f" ({because(r)})" if r.outcome not in ("ok", "runs") else ""
        diff = f"{r.max_abs_diff:.3g}" if r.max_abs_diff is not None else "—"
        winner: dict[str, Any] = next((t for t in r.answer.get("tries", []) if t.get("outcome") == "ok"), {})
        lines.append(
            f"| `{r.target.cell.id}` | {r.target.why} | {mark}{detail} | {diff} | {winner.get('masking') or '—'} | "
            + (fix_text(r.fix, insp.path, r.target.cell.id) if r.fix else "—")
            + " |"
        )
    trusted = [r for r in results if r.refused and r.answer]
    lines += ["", "## The sandbox", ""] + [f"- {k}: {v}" for k, v in sandbox.items()] + [""]
    if trusted:
        lines.append(f"With `--trust`, {len(trusted)} release(s) that would act on the file's findings loaded it "
                     "anyway, in the sandbox. What the loading left in each sandbox:")  # fmt: skip
        lines += [f"- `{r.target.cell.id}`: {', '.join(f'`{w}`' for w in r.written) or 'nothing'}" for r in trusted]
    else:
        lines.append(
            "The file was read, never changed; each release loaded a read-only copy in its sandbox, with safe mode "
            "on where the release has one. No code in the file was executed: a release that would run it was not "
            "given the file."
        )
    return "\n".join(lines) + "\n"


def because(result: Result) -> str:
    """Why a target failed, in a sentence: the catalog's cause, or the error itself where no cause fits."""
    cid = cause_of(result)
    cause = next((c for c in causes.load() if c.id == cid), None)
    if cause is None:
        return f"{result.error_type}: {_one_line(result.error_message)}"
    return f"`{cause.id}`: {_md(cause.sentence)}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _one_line(text: str | None, width: int = 140) -> str:
    flat = " ".join(str(text or "").split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def fix_text(route: str, path: Path, cell: str = "") -> str:
    """What to do where a route works, with absolute paths: the command runs from wherever the user is."""
    where = path.resolve()
    return FIX[route].format(path=where, fixed=_fixed(where), noxfile=NOXFILE, cell=cell)


def _fixed(path: Path) -> str:
    return str(path.with_name(f"{path.stem}-fixed{path.suffix}"))


def verdict_line(results: list[Result]) -> str:
    """One sentence: does every target load the file and predict the same? Refusals are counted, not listed."""
    ok = [r for r in results if r.outcome == "ok"]
    if len(ok) == len(results):
        return f"Loads and predicts the same in all {len(results)} releases checked."
    refused = [r for r in results if r.error_type == "Refused"]
    safe = [r for r in results if r.error_type != "Refused" and unsafe.refused_by_release(r.error_message)]
    other = [f"{r.target.cell.id} ({_short(r)})" for r in results if r.outcome != "ok" and r not in refused + safe]
    parts = [f"{len(refused)} not given the file (their release would act on what it holds)"] if refused else []
    parts += [f"{len(safe)} refused it in their own safe mode"] if safe else []
    parts += [f"not in {', '.join(other)}"] if other else []
    return f"Loads and predicts the same in {len(ok)} of {len(results)} releases; " + "; ".join(parts) + "."


def _short(result: Result) -> str:
    said = result.outcome if result.outcome in ("runs", "mismatch") else f"✗ {result.failed_stage}"
    cid = cause_of(result)
    return f"{said}: {cid}" if cid else said
