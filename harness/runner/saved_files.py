"""Where the files that cells save for each other are kept: a content-addressed folder outside results/.

`.cache/files/` by default (`MASKCOMPAT_FILES` moves it): `files/<hash>/<name>` and `arrays/<hash>.npy`,
written by the `cases` children (`harness.child.keep`), read by the `upgrade` children. Rows hold only
the addresses, so a results folder stays small and a rerun that saves the same content writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.runner.envs import ROOT


def root() -> Path:
    """The store folder."""
    return Path(os.environ.get("MASKCOMPAT_FILES", ROOT / ".cache" / "files"))


def file_path(saved: dict[str, Any], store: Path | None = None) -> Path:
    """Where a saved file (or SavedModel folder) is."""
    return (store or root()) / "files" / str(saved["file"]) / str(saved["name"])


def array_path(key: str, store: Path | None = None) -> Path:
    """Where a kept output array is."""
    return (store or root()) / "arrays" / f"{key}.npy"


def has(saved: dict[str, Any], store: Path | None = None) -> bool:
    """Whether the store holds a saved file and the arrays it is compared with."""
    keys = [saved["expected"], *([saved["ref"]] if saved.get("ref") else [])]
    return file_path(saved, store).exists() and all(array_path(k, store).exists() for k in keys)
