"""Normalise error messages so the same failure groups together across releases."""

from __future__ import annotations

import re
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (ANSI, ""),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"(/[\w.@+-]+)+/?"), "<path>"),
    (re.compile(r"\{[^{}]*\}"), "{…}"),  # applied repeatedly: nested dicts collapse from the inside
    (re.compile(r"\[[^\[\]]*\]"), "[…]"),
    (re.compile(r"(?<![\w.])[-+]?\d+(\.\d+)?(e[-+]?\d+)?"), "N"),
    (re.compile(r"_\d+\b"), "_N"),
    (re.compile(r"\s+"), " "),
)
MAX_LEN = 200


def normalise(message: str) -> str:
    """Strip what varies between runs (addresses, paths, numbers, container contents) from a message."""
    text = message.strip()
    for pattern, repl in _RULES:
        if repl in ("{…}", "[…]"):
            previous = None
            while previous != text:
                previous, text = text, pattern.sub(repl, text)
        else:
            text = pattern.sub(repl, text)
    text = text.strip()
    return text if len(text) <= MAX_LEN else text[: MAX_LEN - 1] + "…"


# Keras wraps the exception that failed in one of its own and quotes it: after "Exception encountered: " when
# deserializing, and between "Exception encountered when calling ..." and "Arguments received ..." when calling.
_QUOTED = (
    # the last quote is the innermost: a model's failure quotes its layer's, which quotes the cause
    re.compile(
        r".*Exception encountered: (?P<inner>.+?)(?:\n\n(?:config=|Call arguments|Arguments received).*)?$", re.S
    ),
    re.compile(
        r"Exception encountered when calling [^\n]*\n\s*(?P<inner>.+?)\s*(?:\n\s*(?:Call arguments|Arguments) "
        r"received.*)?$",
        re.S,
    ),
)
_TYPE_PREFIX = re.compile(r"^(?P<type>[A-Z]\w*(?:Error|Exception|Warning)): (?P<rest>.+)$", re.S)


def innermost(error_type: str | None, message: str | None, cause_type: str | None = None,
              cause_message: str | None = None) -> tuple[str | None, str]:  # fmt: skip
    """The exception that failed first, as (type, message): the child's innermost chained exception where the row
    has one, and inside it the message Keras quotes from the exception it wrapped (rows before the chained fields
    were recorded have only the outer message)."""
    kind, text = (cause_type, cause_message) if cause_type else (error_type, message or "")
    text = ANSI.sub("", text or "")
    for _ in range(4):  # quotes nest: a layer's call failure inside a model's deserialization failure
        for pattern in _QUOTED:
            found = pattern.search(text)
            if found and found.group("inner").strip():
                text = found.group("inner").strip()
                typed = _TYPE_PREFIX.match(text)
                if typed:
                    kind, text = typed.group("type"), typed.group("rest")
                break
        else:
            break
    return kind, text.strip()


def signature(stage: str | None, error_type: str | None, message: str | None, cause_type: str | None = None,
              cause_message: str | None = None) -> str | None:  # fmt: skip
    """`stage: Type: normalised message` of the innermost exception, or None when nothing failed."""
    if error_type is None and message is None:
        return None
    kind, text = innermost(error_type, message, cause_type, cause_message)
    return f"{stage or '?'}: {kind or 'Error'}: {normalise(text)}"


def of_row(row: dict[str, Any]) -> str | None:
    """A stored row's signature as this code makes it (rows measured by older code stored the outer message's):
    what readers group and compare by, so that one cause is one signature across code versions."""
    if row.get("outcome") in (None, "ok") or not row.get("error_signature"):
        return None
    return signature(row.get("failed_stage"), row.get("error_type"), row.get("error_message"),
                     row.get("error_cause_type"), row.get("error_cause_message"))  # fmt: skip
