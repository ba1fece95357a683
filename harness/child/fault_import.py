"""A module that raises while it is imported: the `raise-at-import` fault case imports it (see builders.FAULTS)."""

from __future__ import annotations

raise ImportError("harness.fault_import raises while it is imported, on purpose (a fault case)")
