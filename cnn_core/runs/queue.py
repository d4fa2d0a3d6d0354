"""The queue of runs waiting to train: at most `max_concurrent_runs` train at once, the others
wait as 'queued' and start first-come, first-served: in the order of (created, run id), a strict
order, whether or not the older run's worker has started yet. A file lock under the runs root
guards it.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from cnn_core.files import open_nofollow
from cnn_core.runs.directory import (
    Status,
    list_runs,
    write_status,
)
from cnn_core.settings import get_settings


def max_concurrent_runs() -> int:
    return get_settings().max_concurrent_runs


@contextmanager
def runs_lock(root: Path):
    """The one lock of the runs root: claiming a slot, and a launch counting what a visitor may still start."""
    root.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_nofollow(root / ".slots.lock", os.O_RDWR | os.O_CREAT), "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def try_claim_slot(run_dir: Path, status: Status) -> bool:
    """Under the lock: start if a slot is free and no older queued run is waiting for it."""
    root = run_dir.parent
    with runs_lock(root):
        others = [r for r in list_runs(root) if r.path != run_dir]
        active = sum(1 for r in others if r.status.state in ("running", "stopping"))
        # 'queued' here is a run whose worker is alive or not yet started (read_status reports a
        # dead or silent one as interrupted), so a launch whose worker starts late keeps its turn.
        mine = (status.created, run_dir.name)
        older_waiting = any(r.status.state == "queued" and (r.status.created, r.run_id) < mine for r in others)
        if active >= max_concurrent_runs() or older_waiting:
            return False
        status.state, status.pid, status.heartbeat = "running", os.getpid(), time.time()
        status.started = status.started or time.time()
        write_status(run_dir, status)
        return True
