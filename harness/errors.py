"""The one exception type the command line turns into a one-line message and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a file, an id or an argument, named in the message."""
