"""`check`'s results as SARIF 2.1.0, for GitHub code scanning: one result per risky finding, and one per release
that refused, failed to load or predicted otherwise.

Levels: `error` for findings a release would run code from, `warning` for file, network and memory effects and
for releases that do not load the file, `note` for findings no release is known to act on. `security-severity`
(GitHub's 0-10 scale) is this check's own grading by effect, not a CVSS score.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness import __version__
from harness.decl.advisories import FINDINGS, Entry

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SEVERITY = {"runs code": "9.0", "writes files": "7.5", "network": "7.5", "reads files": "5.5", "memory": "4.0"}
DOES_NOT_LOAD = "does-not-load"


def _uri(path: str) -> str:
    """The file's path relative to where the check ran (GitHub resolves it against the checkout), POSIX style."""
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(p.resolve(), Path.cwd().resolve())).as_posix()


def _effect(kind: str, fmt: str, catalog: list[Entry]) -> str | None:
    hits = [e for e in catalog if kind in e.findings and fmt in e.formats]
    order = list(SEVERITY)
    return min((e.effect for e in hits), key=order.index) if hits else None


def _rule(kind: str, effect: str | None, catalog: list[Entry]) -> dict[str, Any]:
    urls = [e.url for e in catalog if kind in e.findings and e.url]
    rule: dict[str, Any] = {
        "id": kind,
        "name": "".join(part.title() for part in kind.split("-")),
        "shortDescription": {"text": FINDINGS[kind].split(":")[0]},
        "fullDescription": {"text": FINDINGS[kind]},
        "properties": {"tags": ["security", "model-file"]},
    }
    if urls:
        rule["helpUri"] = urls[0]
    if effect:
        rule["properties"]["security-severity"] = SEVERITY[effect]
    return rule


def document(records: list[dict[str, Any]], catalog: list[Entry]) -> dict[str, Any]:
    """The SARIF log of every checked file (the records `check --json` writes)."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for rec in records:
        location = {"physicalLocation": {"artifactLocation": {"uri": _uri(rec["path"])},
                                         "region": {"startLine": 1}}}  # fmt: skip
        for risk in rec["risks"]:
            effect = _effect(risk["kind"], rec["kind"], catalog)
            rules.setdefault(risk["kind"], _rule(risk["kind"], effect, catalog))
            level = "error" if effect == "runs code" else "warning" if effect else "note"
            acted = "; ".join(risk["acted_on_by"]) or "no release is known to act on it"
            results.append({
                "ruleId": risk["kind"],
                "level": level,
                "message": {"text": f"{risk['detail']} at {risk['where']}: {FINDINGS[risk['kind']]}. Acted on by "
                                    f"{acted}."},
                "locations": [{**location, "logicalLocations": [{"fullyQualifiedName": risk["where"]}]}],
            })  # fmt: skip
        for target in rec["targets"]:
            if target["outcome"] in ("ok", "runs"):
                continue
            rules.setdefault(DOES_NOT_LOAD, {
                "id": DOES_NOT_LOAD, "name": "DoesNotLoad",
                "shortDescription": {"text": "a release does not load the file or predict the same"},
                "fullDescription": {"text": "the release refused the file, failed to load or run it, or its outputs "
                                            "differ from the reference"},
                "properties": {"tags": ["compatibility", "model-file"]},
            })  # fmt: skip
            results.append({
                "ruleId": DOES_NOT_LOAD,
                "level": "warning",
                "message": {"text": f"{target['cell_id']}: {target['outcome']} at {target['failed_stage']} "
                                    f"({target['error_type']}: {str(target['error_message'])[:500]})"},
                "locations": [location],
            })  # fmt: skip
    ordered = sorted(rules)
    for r in results:
        r["ruleIndex"] = ordered.index(r["ruleId"])
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "maskcompat check", "version": __version__,
                                "rules": [rules[k] for k in ordered]}},
            "results": results,
        }],
    }  # fmt: skip
