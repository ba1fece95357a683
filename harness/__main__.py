"""Command line: `python -m harness COMMAND`; one module per command in `harness/commands/`; Nox sessions call it."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from harness import __version__
from harness.commands import NAMES, module
from harness.errors import UserError


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem and where the usage is, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    ap = Parser(prog="python -m harness", description=__doc__)
    ap.add_argument("--version", action="version", version=__version__)
    sub = ap.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in NAMES:
        mod = module(name)
        mod.add_arguments(sub.add_parser(name, help=mod.HELP, description=mod.HELP))
    return ap


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn UserError into one line on stderr with exit code 2."""
    args = parser().parse_args(argv)
    try:
        return int(module(args.command).main(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rows stored so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
