"""Runs: the run directory (the only channel between the worker and the UI), its metrics, the
queue, the launcher, the detached worker, the command line, and runs as tables."""
