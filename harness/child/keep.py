"""Keep what a case saved, content-addressed, for other cells to load: the upgrade question's files.

The store holds `files/<hash>/<name>` (the saved file or SavedModel folder, `filehash.content_hash`) and
`arrays/<hash>.npy` (the saving cell's outputs before saving, and the unpadded reference the masking check
uses). Two cells that save the same content share one entry; a rerun that saves it again writes nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.child.filehash import array_hash, content_hash


def _place(store_dir: Path, name: str, write: Any) -> None:
    """Write an entry once: into a temporary name beside it, then renamed into place (another child may race)."""
    final = store_dir / name
    if final.exists():
        return
    store_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=store_dir))
    try:
        write(tmp / name)
        try:
            os.rename(tmp / name, final)
        except OSError:
            if not final.exists():
                raise  # another child placed it first otherwise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def array(store: Path, value: Any) -> str:
    """Keep an output array; its address."""
    import numpy as np

    arr = np.asarray(value)
    key = array_hash(arr)
    _place(store / "arrays", f"{key}.npy", lambda path: np.save(path, arr, allow_pickle=False))
    return key


def saved(store: Path, artifact: Path, before: Any, ref: Any) -> dict[str, Any]:
    """Keep a saved file (or folder) with the outputs it must reproduce; the addresses, for the case's row."""
    key = content_hash(artifact)

    def copy(path: Path) -> None:
        if artifact.is_dir():
            shutil.copytree(artifact, path)
        else:
            shutil.copyfile(artifact, path)

    _place(store / "files" / key, artifact.name, copy)
    return {
        "file": key,
        "name": artifact.name,
        "expected": array(store, before),
        "ref": array(store, ref) if ref is not None else None,
    }
