"""Declarations: cells, scenarios, case ids and the registry of ids; no framework, no child code."""
