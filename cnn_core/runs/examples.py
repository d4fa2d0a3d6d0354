"""The example runs of a hosted demo: small runs trained in the background on the first start, so
the look-inside pages have something to show a visitor who has trained nothing yet.

They are owned by EXAMPLES_OWNER: every visitor sees and downloads them, nobody stops, resumes or
deletes them, and the disk pruning never removes them. `.examples.json` in the runs root remembers
which run is which example; a later start relaunches an example whose run was removed and resumes
one that a restart interrupted. Torch-free.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cnn_core.files import open_nofollow, read_json, write_json_atomic
from cnn_core.i18n import t
from cnn_core.runs.directory import EXAMPLES_OWNER, RunError, list_runs, read_status, run_path, runs_root
from cnn_core.runs.launcher import launch_run, resume_run
from cnn_core.settings import get_settings
from cnn_core.train.config import TrainConfig

# key -> the config's fields (they train CNN_LAB_EXAMPLE_EPOCHS epochs, 4 by default). The seeds' own networks: seed 002's MNIST CNN on the embedded
# digits, and seed 000's CIFAR network on the generated coloured shapes.
EXAMPLES: dict[str, dict] = {
    "digits-seed002": {"dataset": "digits", "preset": "seed002_mnist_cnn", "seed": 2},
    "shapes-seed000": {"dataset": "shapes", "preset": "seed000_cifar_cnn", "seed": 0},
}


INDEX_FILE = ".examples.json"


def example_config(key: str) -> TrainConfig:
    config = TrainConfig(**EXAMPLES[key], epochs=get_settings().example_epochs, device="cpu")
    config.name = t(f"examples.{key}")
    return config


def example_runs(root: str | Path | None = None) -> dict[str, str]:
    """key -> run id of the examples launched so far."""
    index = read_json(runs_root(root) / INDEX_FILE) or {}
    return {key: value for key, value in index.items() if key in EXAMPLES and isinstance(value, str)}


def ensure_example_runs(root: str | Path | None = None) -> dict[str, str]:
    """Launch every example that has no run yet and resume any that a restart interrupted; safe to
    call from several processes at once (a lock file). Returns key -> run id."""
    base = runs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_nofollow(base / ".examples.lock", os.O_RDWR | os.O_CREAT), "r+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        index = example_runs(base)
        present = {run.run_id for run in list_runs(base)}
        for key in EXAMPLES:
            run_id = index.get(key)
            if run_id in present:
                try:
                    if read_status(run_path(run_id, base)).state in ("interrupted", "stopped"):
                        resume_run(run_path(run_id, base))
                except RunError:
                    pass  # its time budget is spent: it stays as it is
                continue
            index[key] = launch_run(example_config(key), base, visitor=EXAMPLES_OWNER).name
            write_json_atomic(base / INDEX_FILE, index)
    return index
