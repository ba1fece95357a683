"""Stored rows: the schema, how a row is made, the files, merging, and whether a row is current."""
