"""Upgrade questions over cells: triage an upgrade, bisect a release axis."""
