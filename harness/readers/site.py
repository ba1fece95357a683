"""The static site: summary.json checked against its schema, then HTML, CSS, JS and the data as `data.js`.

The page is opened from file:// with no network: no CDN, no fetch (a file:// page cannot fetch JSON), so
the summary is embedded as a script that sets one global, and the page's own script draws everything.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "results" / "summary.schema.json"
ASSETS = Path(__file__).resolve().parent / "site_assets"
FILES = ("index.html", "site.css", "site.js")  # copied as they are; data.js is written from the summary
GLOBAL = "MASKCOMPAT_SUMMARY"
REGENERATE = "regenerate it with `nox -s report`"


def problems(value: Any, schema: dict[str, Any]) -> list[str]:
    """Where a value breaks the schema, as `path: what`, most relevant first (jsonschema, draft 2020-12)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=jsonschema.exceptions.relevance)
    return [f"{e.json_path.removeprefix('$').removeprefix('.') or 'the top level'}: {e.message[:200]}" for e in errors]


def references(summary: dict[str, Any]) -> list[str]:
    """What the schema cannot say: every cell id, case and source index a record names must exist."""
    cells, cases, sources = summary["cells"], summary["cases"], summary["upgrade"]["sources"]
    out: list[str] = []
    for name in ("verdicts", "latency"):
        for i, rec in enumerate(summary[name]):
            if rec["cell_id"] not in cells:
                out.append(f"{name}[{i}].cell_id: {rec['cell_id']!r} is not in cells")
            if rec["case"] not in cases:
                out.append(f"{name}[{i}].case: {rec['case']!r} is not in cases")
    for i, pair in enumerate(summary["upgrade"]["pairs"]):
        for key in ("saved_by", "loaded_by"):
            if pair[key] not in cells:
                out.append(f"upgrade.pairs[{i}].{key}: {pair[key]!r} is not in cells")
        bad = sorted({j for idx in pair["entries"].values() for j in idx if j >= len(sources)})
        if bad:
            out.append(f"upgrade.pairs[{i}].entries: source index {bad[0]} is past the {len(sources)} sources")
    return out


def load(path: Path, schema: Path = SCHEMA) -> dict[str, Any]:
    """The summary, or a UserError naming the first thing wrong with it (missing, not JSON, not the schema)."""
    if not path.is_file():
        raise UserError(f"{path} does not exist: {REGENERATE}")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not readable JSON ({exc}): {REGENERATE}") from None
    try:
        declared = json.loads(schema.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"the summary's schema {schema} is not readable ({exc})") from None
    found = problems(summary, declared)
    if not found:
        found = references(summary)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise UserError(f"{path} does not follow {schema.name}: {found[0]}{more}; {REGENERATE}")
    return dict(summary)


def data_js(summary: dict[str, Any]) -> str:
    """The summary as a script that sets one global: ASCII JSON, so the page's encoding cannot garble it."""
    return f"window.{GLOBAL} = {json.dumps(summary, ensure_ascii=True, separators=(',', ':'))};\n"


def embedded(text: str) -> Any:
    """The data a data.js file sets (the inverse of `data_js`), for checks."""
    prefix = f"window.{GLOBAL} = "
    if not text.startswith(prefix) or not text.endswith(";\n"):
        raise ValueError(f"not a data.js written by {__name__}")
    return json.loads(text[len(prefix) : -2])


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build(summary: dict[str, Any], out: Path) -> list[Path]:
    """Write the site's files into `out` (other files there are left alone); returns what was written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the site folder {out}: {exc.strerror}") from None
    if not out.is_dir():
        raise UserError(f"{out} is not a folder")
    written = []
    for name in FILES:
        shutil.copyfile(ASSETS / name, out / name)
        written.append(out / name)
    _write(out / "data.js", data_js(summary))
    written.append(out / "data.js")
    return written


def describe(summary: dict[str, Any], written: list[Path]) -> str:
    """One line for the command: what the site holds and where to open it."""
    size = sum(p.stat().st_size for p in written)
    index = written[0]
    return (
        f"wrote {index.parent}/ ({len(written)} files, {size / 1024:.0f} KiB): {len(summary['verdicts'])} verdicts, "
        f"{len(summary['upgrade']['pairs'])} upgrade pairs, {len(summary['latency'])} latency figures; "
        f"open {index.as_uri()}"
    )
