"""Keras from wheel files for machines without network: one folder `keras-<version>/` of wheels per release."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.decl.cells import Cell
from harness.errors import UserError


def unpack(folder: Path, dest: Path) -> list[str]:
    """Extract every wheel in the folder into `dest` (an import path, as pip --target would lay it out)."""
    names = []
    for wheel in sorted(folder.glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(dest)
        except zipfile.BadZipFile:
            raise UserError(f"{wheel}: not a wheel (bad zip file)") from None
        names.append(wheel.name)
    return names


@contextmanager
def unpacked(root: Path, cells: list[Cell]) -> Iterator[dict[str, Path]]:
    """Cell id -> a temporary import path holding its Keras release's wheels; cells without a folder are left out."""
    tmp = Path(tempfile.mkdtemp(prefix="maskcompat-wheels-"))
    sites: dict[str, Path] = {}
    by_version: dict[str, Path] = {}
    try:
        for cell in cells:
            version = cell.keras or ""
            folder = root / f"keras-{version}"
            if not any(folder.glob(f"keras-{version}-*.whl")):
                continue
            if version not in by_version:
                site = tmp / f"keras-{version}"
                unpack(folder, site)
                by_version[version] = site
            sites[cell.id] = by_version[version]
        yield sites
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
