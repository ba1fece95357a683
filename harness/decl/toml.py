"""TOML reading on every Python the project admits: tomllib from 3.11, the tomli backport on 3.10."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised by the Python 3.10 cells and nox runs
    import tomli as _toml

DecodeError = _toml.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text (raises DecodeError)."""
    return dict(_toml.loads(text))
