"""Code that runs inside a cell's environment, started by the runner as `python -m harness.child HANDLER`."""
