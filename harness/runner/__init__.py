"""The parent side: interpreters, child processes with timeouts, and the runs that turn answers into rows."""
