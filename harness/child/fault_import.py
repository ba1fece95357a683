"""A module that raises while it is imported: the `raise-at-import` fault case imports it (`harness.decl.registry`'s
FAULTS)."""

from __future__ import annotations

raise ImportError("harness.child.fault_import raises while it is imported, on purpose (a fault case)")
