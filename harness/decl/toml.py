"""TOML reading on every Python the project admits: tomllib from 3.11, the tomli backport on 3.10."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised by the Python 3.10 cells and nox runs
    import tomli as _toml

DecodeError = _toml.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text (raises DecodeError)."""
    return dict(_toml.loads(text))


def read(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's table; a file that cannot be read or parsed is one UserError naming it and `what` it is."""
    from harness.errors import UserError

    try:
        return loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    except DecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
