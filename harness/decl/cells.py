"""Cells as data: load `cells/cells.toml`, check each against the release rules, derive pins and env."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.decl import toml
from harness.errors import UserError

CELL_KEYS = {
    "id",
    "python",
    "tensorflow",
    "keras",
    "tf_keras",
    "backend",
    "packages",
    "roles",
    "description",
    "default",
}
# CPU pin -> GPU build of the same release, for `--device gpu` installs.
GPU_BUILDS = (
    ("tensorflow-cpu==", "tensorflow[and-cuda]=="),
    ("jax[cpu]==", "jax[cuda12]=="),
    ("jax==", "jax[cuda12]=="),
)
BACKENDS = ("tensorflow", "jax", "torch")
# Keys a pin spec may use, and the cell field each one matches.
SPEC_KEYS = {
    "tf": "tensorflow",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "tf_keras": "tf_keras",
    "tf-keras": "tf_keras",
    "backend": "backend",
    "python": "python",
    "py": "python",
}
PACKAGE_KEYS = ("jax", "torch")


@dataclass(frozen=True)
class Cell:
    """One pinned environment: interpreter, packages, Keras flavor and backend."""

    id: str
    python: str
    tensorflow: str | None
    keras: str | None
    tf_keras: str | None
    backend: str
    packages: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    description: str = ""
    default: bool = True

    @property
    def flavor(self) -> str:
        """`keras2` (tf.keras from the keras 2 package), `tf_keras`, or `keras3`."""
        if self.tf_keras:
            return "tf_keras"
        if self.keras and self.keras.split(".")[0] == "2":
            return "keras2"
        return "keras3"

    @property
    def pins(self) -> list[str]:
        """The requirements installed into the cell's environment."""
        pins = []
        if self.tensorflow:
            pins.append(f"tensorflow-cpu=={self.tensorflow}")
        if self.keras:
            pins.append(f"keras=={self.keras}")
        if self.tf_keras:
            pins.append(f"tf-keras=={self.tf_keras}")
        return pins + list(self.packages)

    @property
    def gpu_pins(self) -> list[str]:
        """The same releases as `pins`, in their CUDA builds (torch's plain PyPI wheel is the CUDA one)."""
        out = []
        for pin in self.pins:
            for cpu, gpu in GPU_BUILDS:
                if pin.startswith(cpu):
                    pin = gpu + pin[len(cpu) :]
                    break
            if pin.startswith("torch==") and pin.endswith("+cpu"):
                pin = pin[: -len("+cpu")]
            out.append(pin)
        return out

    def pins_for(self, device: str) -> list[str]:
        """The pins a `cpu` or `gpu` environment of this cell installs."""
        return self.gpu_pins if device == "gpu" else self.pins

    @property
    def env(self) -> dict[str, str]:
        """Variables that select Keras flavor and backend before the first import."""
        env = {"MASKCOMPAT_FLAVOR": self.flavor, "KERAS_BACKEND": self.backend}
        if self.flavor == "tf_keras":
            env["TF_USE_LEGACY_KERAS"] = "1"
        return env

    @property
    def tags(self) -> list[str]:
        """Roles, flavor and backend: what scenarios and `nox -t` select cells by."""
        return [*self.roles, self.flavor, self.backend]

    @property
    def hash(self) -> str:
        """Identity of what the cell installs and selects; a change makes its stored rows stale."""
        blob = json.dumps({"python": self.python, "pins": self.pins, "env": self.env}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def summary(self) -> str:
        """One line for `nox -l` and progress output."""
        parts = [f"py{self.python}", *self.pins, f"backend={self.backend}", self.flavor]
        return " ".join(parts)


@dataclass(frozen=True)
class Exclusion:
    """A cell left out of the matrix, with the reason shown in the report."""

    id: str
    reason: str


@dataclass(frozen=True)
class Matrix:
    """All valid cells in file order, plus the exclusions (declared or computed from the rules)."""

    cells: tuple[Cell, ...]
    excluded: tuple[Exclusion, ...] = field(default=())

    def get(self, cell_id: str) -> Cell:
        """The cell with this id, or a clear error listing close ids."""
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        for ex in self.excluded:
            if ex.id == cell_id:
                raise UserError(f"cell {cell_id!r} is excluded: {ex.reason}")
        near = [c.id for c in self.cells if cell_id.split("-")[0] in c.id][:5]
        hint = f"; did you mean one of {near}?" if near else "; `python -m harness cells` lists them"
        raise UserError(f"unknown cell id {cell_id!r}{hint}")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _full(python: str) -> str:
    """`3.11` -> `3.11.0`, so that `<3.12`-style specifiers compare as intended."""
    return python if python.count(".") >= 2 else f"{python}.0"


def rule_violation(cell: Cell, rules: dict[str, Any]) -> str | None:
    """Why the cell cannot be installed as declared, from the release rules; None when it can."""
    from packaging.specifiers import SpecifierSet

    tf_rules = rules.get("tensorflow", {})
    if cell.tensorflow:
        rule = tf_rules.get(_minor(cell.tensorflow))
        if rule is None:
            return f"no rule for tensorflow {_minor(cell.tensorflow)} in [rules.tensorflow]"
        if _full(cell.python) not in SpecifierSet(rule["python"]):
            return f"tensorflow {cell.tensorflow} supports python {rule['python']}, not {cell.python}"
        if cell.keras and cell.keras not in SpecifierSet(rule["keras"]):
            return f"tensorflow {cell.tensorflow} requires keras {rule['keras']}, not {cell.keras}"
        if cell.tf_keras and cell.tf_keras not in SpecifierSet(rule["tf_keras"]):
            return f"tf-keras {cell.tf_keras} does not pair with tensorflow {cell.tensorflow} ({rule['tf_keras']})"
    elif cell.backend == "tensorflow":
        return "backend tensorflow needs a tensorflow pin"
    if cell.flavor == "keras3" and cell.keras:
        floors = rules.get("keras_python", {})
        applicable = [
            k for k in floors if tuple(map(int, k.split("."))) <= tuple(map(int, _minor(cell.keras).split(".")))
        ]
        if applicable:
            floor = floors[max(applicable, key=lambda k: tuple(map(int, k.split("."))))]
            if _full(cell.python) not in SpecifierSet(floor):
                return f"keras {cell.keras} needs python {floor}, not {cell.python}"
    if cell.flavor != "keras3" and cell.backend != "tensorflow":
        return "Keras 2 runs on the tensorflow backend only"
    return None


def _cell_from(raw: dict[str, Any], defaults: dict[str, Any], where: str) -> Cell:
    unknown = set(raw) - CELL_KEYS
    if unknown:
        raise UserError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(CELL_KEYS)}")
    if "id" not in raw or not isinstance(raw["id"], str) or not raw["id"]:
        raise UserError(f"{where}: field 'id' is required (a non-empty string)")
    merged = {**defaults, **raw}
    for key in ("python", "tensorflow", "keras", "tf_keras", "backend", "description"):
        if key in merged and not isinstance(merged[key], str):
            raise UserError(f"{where} ({raw['id']}): field {key!r} must be a string, got {merged[key]!r}")
    for key in ("packages", "roles"):
        if key in merged and not (isinstance(merged[key], list) and all(isinstance(v, str) for v in merged[key])):
            raise UserError(f"{where} ({raw['id']}): field {key!r} must be a list of strings")
    if not isinstance(merged.get("default", True), bool):
        raise UserError(f"{where} ({raw['id']}): field 'default' must be true or false")
    backend = merged.get("backend", "tensorflow")
    if backend not in BACKENDS:
        raise UserError(f"{where} ({raw['id']}): backend {backend!r} is not one of {list(BACKENDS)}")
    if "python" not in merged:
        raise UserError(f"{where} ({raw['id']}): field 'python' is required (or set it in [defaults])")
    if not merged.get("keras") and not merged.get("tf_keras"):
        raise UserError(f"{where} ({raw['id']}): a cell needs 'keras' or 'tf_keras'")
    return Cell(
        id=raw["id"],
        python=merged["python"],
        tensorflow=merged.get("tensorflow"),
        keras=merged.get("keras"),
        tf_keras=merged.get("tf_keras"),
        backend=backend,
        packages=tuple(merged.get("packages", ())),
        roles=tuple(merged.get("roles", ())),
        description=merged.get("description", ""),
        default=merged.get("default", True),
    )


def _line_of(text: str, needle: str) -> int:
    for no, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return no
    return 0


def load(path: Path, check_rules: bool = True) -> Matrix:
    """Parse and check the cells file; malformed content raises UserError naming file, line and field.

    `check_rules=False` skips the release rules (they need `packaging`, which a cell's own environment
    may lack); the worker side uses it, and runs only cells the matrix listing already admitted.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read cells file {path}: {exc.strerror}") from None
    try:
        data = toml.loads(text)
    except toml.DecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    defaults = data.get("defaults", {})
    rules = data.get("rules", {})
    cells: list[Cell] = []
    excluded: list[Exclusion] = []
    seen: set[str] = set()
    for raw in data.get("cell", []):
        line = _line_of(text, f'id = "{raw.get("id", "")}"') if raw.get("id") else 0
        cell = _cell_from(raw, defaults, f"{path}:{line}")
        if cell.id in seen:
            raise UserError(f"{path}:{line}: duplicate cell id {cell.id!r}")
        seen.add(cell.id)
        why = rule_violation(cell, rules) if check_rules else None
        if why:
            excluded.append(Exclusion(cell.id, why))
        else:
            cells.append(cell)
    for raw in data.get("excluded", []):
        if not isinstance(raw.get("id"), str) or not isinstance(raw.get("reason"), str):
            raise UserError(
                f"{path}:{_line_of(text, '[[excluded]]')}: each [[excluded]] needs 'id' and 'reason' strings"
            )
        excluded.append(Exclusion(raw["id"], raw["reason"]))
    if not cells:
        raise UserError(f"{path}: no valid [[cell]] entries")
    return Matrix(tuple(cells), tuple(excluded))


def _matches(cell: Cell, key: str, value: str) -> bool:
    if key in PACKAGE_KEYS:
        return any(
            p.split("[")[0].split("==")[0] == key and p.split("==")[-1].split("+")[0] == value for p in cell.packages
        )
    return str(getattr(cell, SPEC_KEYS[key]) or "") == value


def parse_spec(spec: str) -> dict[str, str]:
    """`tf=2.17.1,keras=3.8.0` -> {"tf": "2.17.1", "keras": "3.8.0"}; unknown keys are a UserError."""
    pins: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise UserError(f"{spec!r}: {part!r} is not KEY=VERSION")
        if key not in SPEC_KEYS and key not in PACKAGE_KEYS:
            known = ", ".join(sorted({*SPEC_KEYS, *PACKAGE_KEYS}))
            raise UserError(f"{spec!r}: unknown key {key!r} (known: {known})")
        pins[key] = value
    return pins


def resolve(spec: str, matrix: Matrix) -> Cell:
    """A cell id, or pins such as `tf=2.15.1` / `tf=2.17.1,keras=3.8.0`, as the one cell they name."""
    ids = {c.id: c for c in matrix.cells}
    if spec in ids:
        return ids[spec]
    if "=" not in spec:
        raise UserError(f"{spec!r} is neither a cell id (`nox -s cells`) nor pins like tf=2.15.1,keras=3.8.0")
    pins = parse_spec(spec)
    found = [c for c in matrix.cells if all(_matches(c, k, v) for k, v in pins.items())]
    if not found:
        raise UserError(f"no cell has {spec}; add one to the cells file or pick one from `nox -s cells`")
    if len(found) > 1:
        # The cell a plain `pip install` of those pins gives: default cells, default Python, role tf-default.
        preferred = [c for c in found if c.default and "tf-default" in c.roles] or [c for c in found if c.default]
        if len(preferred) == 1:
            return preferred[0]
        raise UserError(f"{spec} names {len(found)} cells ({', '.join(c.id for c in found)}); add pins or give an id")
    return found[0]


def from_spec(spec: str, path: Path) -> Cell:
    """A cell made from pins no cell of the matrix has (`keras=3.9.0,tf=2.19.1`), checked against the rules."""
    pins = parse_spec(spec)
    text = path.read_text(encoding="utf-8")
    data = toml.loads(text)
    defaults, rules = data.get("defaults", {}), data.get("rules", {})
    fields = {SPEC_KEYS[k]: v for k, v in pins.items() if k in SPEC_KEYS}
    cpu_builds = {"jax": "jax[cpu]=={}", "torch": "torch=={}+cpu"}  # as the matrix's own cells pin them
    packages = [cpu_builds[k].format(v) for k, v in pins.items() if k in PACKAGE_KEYS]
    backend = fields.get("backend") or ("jax" if "jax" in pins else "torch" if "torch" in pins else "tensorflow")
    if not fields.get("keras") and not fields.get("tf_keras"):
        raise UserError(f"{spec!r} names no cell and cannot make one: give keras=VERSION (or tf_keras=VERSION)")
    if backend == "tensorflow" and not fields.get("tensorflow"):
        raise UserError(f"{spec!r} names no cell and cannot make one: the tensorflow backend needs tf=VERSION")
    tag = "-".join(f"{k}{v}" for k, v in sorted(pins.items()))
    cell = Cell(
        id=f"spec-{tag}",
        python=fields.get("python", defaults.get("python", "3.11")),
        tensorflow=fields.get("tensorflow"),
        keras=fields.get("keras"),
        tf_keras=fields.get("tf_keras"),
        backend=backend,
        packages=tuple(packages),
        roles=("spec",),
        default=False,
    )
    why = rule_violation(cell, rules)
    if why:
        raise UserError(f"{spec!r} names no cell, and one with those pins breaks a release rule: {why}")
    return cell
