"""Normalise error messages so the same failure groups together across releases."""

from __future__ import annotations

import re

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


def signature(stage: str | None, error_type: str | None, message: str | None) -> str | None:
    """`stage: Type: normalised message`, or None when nothing failed."""
    if error_type is None and message is None:
        return None
    return f"{stage or '?'}: {error_type or 'Error'}: {normalise(message or '')}"
