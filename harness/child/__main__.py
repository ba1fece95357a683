"""`python -m harness.child HANDLER`: serve one handler over the child protocol (see `harness.child.serve`)."""

from __future__ import annotations

import sys

from harness.child.serve import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
