"""Readers: the report and the spread, from stored rows only (pandas, matplotlib, scipy; never a framework)."""
