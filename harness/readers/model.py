"""The one vocabulary every reader shares: the order and labels of cells, the entries of a machine's grid and
their marks, the glossary, the command that reruns an entry, and a machine's view of the rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.decl import caseids
from harness.decl import causes as catalog
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.store import fresh

if TYPE_CHECKING:  # pandas is imported by the readers that make frames; cell order and labels need none
    import pandas as pd

FLAVOR_ORDER = {"keras2": 0, "tf_keras": 1, "keras3": 2}

BACKEND_ORDER = {"tensorflow": 0, "jax": 1, "torch": 2}

# Table entry -> heat-map colour; stage names follow the mark for failing entries.
MARKS = {"ok": "ok", "fail": "✗", "mismatch": "≠", "crash": "crash", "timeout": "timeout", "skip": "skip"}

COLOURS = {  # Okabe-Ito: told apart with every common colour-vision deficiency
    "ok": "#009E73",
    "fail": "#D55E00",
    "mismatch": "#E69F00",
    "crash": "#CC79A7",
    "timeout": "#56B4E9",
    "skip": "#BBBBBB",
    "stale": "#F0E442",
    "not run": "#FFFFFF",
}


def vkey(version: str | None) -> tuple[int, ...]:
    if not version:
        return (999,)
    out = []
    for part in version.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def cell_order(cell: Cell) -> tuple[Any, ...]:
    """Version order: backend, then Keras flavor, then Keras version, then TensorFlow version."""
    return (
        BACKEND_ORDER.get(cell.backend, 9),
        FLAVOR_ORDER.get(cell.flavor, 9),
        vkey(cell.tf_keras or cell.keras) if cell.flavor != "keras2" else vkey(cell.tensorflow),
        vkey(cell.tensorflow),
        vkey(cell.python),
    )


def group_of(cell: Cell) -> str:
    """The family a finding speaks about."""
    if cell.flavor == "keras2":
        return "Keras 2 (tf.keras)"
    if cell.flavor == "tf_keras":
        return "Keras 2 via tf-keras"
    return f"Keras 3, {cell.backend} backend"


def version_label(cell: Cell) -> str:
    """How a finding names one cell within its family (Python too, for cells of the Python axis)."""
    if cell.flavor == "keras2":
        label = f"TF {cell.tensorflow}"
    elif cell.flavor == "tf_keras":
        label = f"TF {cell.tensorflow} + tf-keras {cell.tf_keras}"
    else:
        label = f"Keras {cell.keras}" + (f" + TF {cell.tensorflow}" if cell.tensorflow else "")
    return label + (f" on Python {cell.python}" if "python-axis" in cell.roles else "")


def cause_of(row: dict[str, Any] | None) -> str | None:
    """The catalog's cause of a failing row (`unexplained` where none fits); None where the row did not fail."""
    return catalog.classify(row, catalog.load()) if row else None


def failing_text(mark: str, stage: str | None, cause: str | None) -> str:
    """A failing entry's text: its mark, the stage it stopped at and the cause, e.g. `✗ load · keras2-time-major`."""
    text = f"{mark} {stage}" if stage else mark
    return f"{text} · {cause}" if cause else text


def family(cell: Cell) -> str:
    """The family an upgrade moves between."""
    if cell.flavor == "keras2":
        return "Keras 2"
    if cell.flavor == "tf_keras":
        return "tf-keras"
    return "Keras 3" if cell.backend == "tensorflow" else f"Keras 3 {cell.backend}"


def span(versions: list[str], minor: bool = False) -> str:
    """Distinct versions, lowest to highest, as one range: `3.0.5–3.8.0`; `minor`: as major.minor where that tells
    them apart (`2.16–2.21`)."""
    seen = sorted(set(versions), key=vkey)
    if minor and len({".".join(v.split(".")[:2]) for v in seen}) == len(seen) > 1:
        seen = [".".join(v.split(".")[:2]) for v in seen]
    return seen[0] if len(seen) == 1 else f"{seen[0]}–{seen[-1]}"


def label(cells: list[Cell]) -> str:
    """A run of cells, one part per family, e.g. `Keras 3.15.1 on TF 2.16–2.21 (8 cells)`, `Keras 3.0.5–3.8.0
    on TF 2.16–2.19 (9 cells)`, `Keras 2 on TF 2.12–2.15 (4 cells)`, `Keras 3.15.1 (jax)`."""
    parts = []
    for fam, group in itertools.groupby(cells, key=family):
        members = list(group)
        tf = [c.tensorflow for c in members if c.tensorflow]
        if fam == "Keras 2":
            text = f"Keras 2 on TF {span(tf, minor=True)}"
        elif fam == "tf-keras":
            text = f"tf-keras {span([c.tf_keras or '' for c in members])}"
        else:
            text = f"Keras {span([c.keras or '' for c in members])}" + (f" on TF {span(tf, minor=True)}" if tf else "")
            text += f" ({members[0].backend})" if members[0].backend != "tensorflow" else ""
        pythons = [c.python for c in members if "python-axis" in c.roles]
        text += f", Python {span(pythons)}" if pythons else ""
        parts.append(text + (f" ({len(members)} cells)" if len(members) > 1 else ""))
    return "; ".join(parts)


def runs_label(cells: list[Cell]) -> str:
    """Cells in version order, consecutive ones of a family as one range."""
    return "; ".join(label(list(g)) for _, g in itertools.groupby(cells, key=family)) or "none"


@dataclass
class Entry:
    """One table entry: what the data says about (cell, case)."""

    status: str  # an outcome, "stale" or "not run"
    stage: str | None
    row: dict[str, Any] | None

    @property
    def text(self) -> str:
        """The table's text for this entry."""
        if self.status in ("ok", "stale", "not run", "skip"):
            return self.status
        return failing_text(MARKS[self.status], self.stage, self.cause)

    @property
    def cause(self) -> str | None:
        """Why a failing entry failed: a cause id of the catalog, or `unexplained`."""
        return cause_of(self.row) if self.status in catalog.FAILING else None


def is_current(row: dict[str, Any], cell: Cell, scen: Scenario) -> bool:
    return fresh.current(row, cell, scen)


def entries(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> dict[tuple[str, str], Entry]:
    """(cell id, scenario/case) -> Entry for every declared cell and case; gaps are `not run`."""
    by_key = {(r["cell_id"], caseids.key(r["scenario"], r["case_id"])): r for r in rows}
    scen_by_id = {s.id: s for s in scens}
    cell_by_id = {c.id: c for c in matrix.cells}
    out: dict[tuple[str, str], Entry] = {}
    for cell in matrix.cells:
        for scen in scens:
            if not scen.applies_to(cell.id, cell.tags):
                continue
            for case in scen.cases():
                key = (cell.id, caseids.key(scen.id, case.case_id))
                row = by_key.get(key)
                source = cell_by_id.get(case.params.get("saved_by", ""))
                if row is None:
                    out[key] = Entry("not run", None, None)
                elif not fresh.current(row, cell, scen_by_id[scen.id], source):
                    out[key] = Entry("stale", None, row)
                else:
                    out[key] = Entry(row["outcome"], row["failed_stage"], row)
    return out


def ranges(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return f"{labels[0]} … {labels[-1]} ({len(labels)} cells)" if len(labels) > 2 else f"{labels[0]}, {labels[1]}"


Runs = list[tuple[str, list[str]]]


def family_runs(column: pd.Series, matrix: Matrix) -> dict[str, Runs]:
    """Per family, the column's entries as consecutive runs: [(entry text, [version labels]), ...]."""
    by_id = {c.id: c for c in matrix.cells}
    labelled: dict[str, list[tuple[str, str]]] = {}
    for cell_id, entry in column.items():
        cell = by_id[str(cell_id)]
        labelled.setdefault(group_of(cell), []).append((entry.text, version_label(cell)))
    return {
        group: [(text, [label for _, label in run]) for text, run in itertools.groupby(items, key=lambda i: i[0])]
        for group, items in labelled.items()
    }


def verdict_words(text: str) -> str:
    if text == "ok":
        return "**ok**"
    if text in ("stale", "not run"):
        return text
    text, _, cause = text.partition(" · ")
    mark, _, stage = text.partition(" ")
    word = {"✗": "fails", "≠": "gives different outputs", "crash": "crashes", "timeout": "times out"}.get(mark, mark)
    said = f"**{word}** at `{stage}`" if stage else f"**{word}**"
    return f"{said} ({cause})" if cause else said


LEGEND = (
    "`ok`: every stage passed; `✗ stage`: failed at that stage; `≠ stage`: ran but outputs differ (after load, "
    "or padded steps changed the output); `skip`: the route does not exist there; `crash` / `timeout`: the worker "
    "died or hung there; `stale`: the stored row was measured by other code, scenario or pins; `not run`: no row."
)

# The kinds of upgrade, each defined once (the glossary states it) and used by every sentence and table.
TRANSITIONS = {
    "Keras 2 → Keras 3": "a file saved by Keras 2 (tf.keras) or tf-keras, loaded by Keras 3 on any backend",
    "Keras 3 → newer Keras 3": "a Keras 3 file loaded by a newer Keras 3 release, any backend on either side",
    "Keras 3 → same Keras 3": "a Keras 3 file loaded by the same Keras 3 release (another TensorFlow, Python or "
    "backend), the saving cell itself excluded",
    "Keras 3 → older Keras 3": "a Keras 3 file loaded by an older Keras 3 release, any backend on either side",
    "Keras 3 → Keras 2": "a Keras 3 file loaded by Keras 2 or tf-keras",
}

GLOSSARY = {
    "cell": "one pinned environment: Python, TensorFlow and/or Keras (or tf-keras) releases and a backend, "
    "installed on its own (`cells/cells.toml`); its id names the pins, e.g. `tf2.19.1-keras3.8.0`.",
    "case": "one declared combination of a scenario's parameters (`scenarios/*.toml`), e.g. "
    "`masking-lstm/tensor-float64:.keras`: a float64 tensor `mask_value`, saved as `.keras`.",
    "route": "a published way around the tensor `mask_value` problem, measured as its own case: `list` (a plain "
    "list), `custom-layer` (a Masking subclass with a serializable config), `custom-objects` (plain Masking, "
    "loaded with `custom_objects`), `savedmodel` (SavedModel / `export`), `weights-only` (weights into a "
    "rebuilt model), `repair` (the file rewritten by `python -m harness repair`).",
    "stage": "the step where a case stopped: build, predict, masking, save, repair, load, predict_after_load, "
    "equivalence (outputs after load differ from before), masking_after_load.",
    "floor": "the same LSTM computed with the backend's own primitives (no Keras layer): the least a masked "
    "RNN can cost on that backend, so `Keras / floor` is Keras' overhead.",
    "reference correction": "each timing sample is divided by a fixed pure-Python workload timed in the same "
    "process around it, then converted back to milliseconds at the machine's fast-state speed; it removes "
    "the machine's drift between processes (README, Latency).",
    "⚠": "a latency figure whose own 95% confidence interval is wider than 20% of its median, or that has none.",
    "stale": "a stored row measured by another version of the code that measures it, another scenario "
    "declaration or other pins; `nox -s matrix` measures it again.",
    "upgrade path": "a file one cell saved, loaded by another cell the way its route prescribes (safe mode on), "
    "run and compared with the saving cell's outputs.",
    **{
        f"{kind} (pairs)": f"{what}; every sentence and table that counts pairs of this kind counts these."
        for kind, what in TRANSITIONS.items()
    },
}


def reproduce(cell_id: str, key: str, row: dict[str, Any] | None) -> str:
    """The one command that reruns one entry with the packages its row recorded (GPU and latency: nox)."""
    scen = caseids.split(key)[0]
    if row is not None and str(row.get("device", "")).startswith("gpu"):
        return f'nox -s matrix -- --cell {cell_id} --case "{key}" --fresh --device gpu'
    if scen == "latency" or row is None or not row.get("packages"):
        session = "bench" if scen == "latency" else "matrix"
        return f'nox -s {session} -- --cell {cell_id} --case "{key}" --fresh'
    pins = " ".join(f"--with {name}=={version}" for name, version in sorted(row["packages"].items()))
    index = " --index https://download.pytorch.org/whl/cpu" if "+cpu" in " ".join(row["packages"].values()) else ""
    return (
        f"uv run --no-project --python {row['python']}{index} {pins} -- "
        f'python -m harness run --cell {cell_id} --case "{key}" --fresh'
    )


def machine_views(rows: list[dict[str, Any]], matrix: Matrix) -> Iterator[tuple[str, list[dict[str, Any]], Matrix]]:
    """Per machine: its rows of known cells and the cells it shows (its own, plus the defaults if it ran any)."""
    known = {c.id for c in matrix.cells}
    for mid in sorted({r["machine"]["id"] for r in rows}):
        mrows = [r for r in rows if r["machine"]["id"] == mid and r["cell_id"] in known]
        if not mrows:
            continue
        ran = {r["cell_id"] for r in mrows}
        defaults = any(c.default and c.id in ran for c in matrix.cells)
        yield (
            mid,
            mrows,
            Matrix(tuple(c for c in matrix.cells if c.id in ran or (defaults and c.default)), matrix.excluded),
        )


@dataclass
class View:
    """One machine's rows as every section reads them: all of them, the plain ones (not kept apart by their
    kind), the cells it shows, its grid of entries, and what sections leave for the answers (`frames`)."""

    machine_id: str
    rows: list[dict[str, Any]]
    plain: list[dict[str, Any]]
    shown: Matrix
    grid: dict[tuple[str, str], Entry]
    ran: set[str]
    scens: list[Scenario]
    frames: dict[str, Any] = field(default_factory=dict)


ZOO_NAMES = {  # the zoo's kinds in a user's words, with the layer classes a search finds them by
    "cnn": "A CNN (Conv2D, BatchNormalization, MaxPooling2D, Dropout)",
    "conv1d-text": "A text CNN (Embedding, Conv1D, GlobalMaxPooling1D)",
    "embedding-mask-gru": "A masked Embedding (mask_zero) into a GRU",
    "bidirectional-lstm": "A Bidirectional(LSTM)",
    "transformer": "A Transformer encoder block (MultiHeadAttention, LayerNormalization, Add, Dense)",
    "normalization": "An adapted Normalization layer",
    "text-vectorization": "A TextVectorization layer (adapted) into an Embedding",
    "string-lookup": "A StringLookup with a vocabulary",
    "integer-lookup": "An IntegerLookup with a vocabulary",
    "discretization": "A Discretization into a CategoryEncoding",
    "hashing": "A Hashing layer into a CategoryEncoding",
    "category-encoding": "A CategoryEncoding (counts)",
    "multi-io": "A Functional model of two inputs and two outputs (GRU, Dense, Concatenate)",
    "custom-layer": "A registered custom layer",
    "subclassed-model": "A registered subclassed Model",
    "mixed-precision": "Dense layers under a mixed_float16 policy",
    "time-distributed": "A TimeDistributed(Dense)",
    "backend-ops": "Backend ops in a Functional graph (tanh, multiply, add)",
    "lambda": "A Lambda layer",
    "compiled": "A compiled model with optimizer state (SGD with momentum): one training step after loading",
}
