"""The queue of runs waiting to train: at most `max_concurrent_runs` train at once, the others
wait as 'queued' and start first-come, first-served. A file lock under the runs root guards it.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from cnn_core.runs.directory import (
    Status,
    list_runs,
    pid_is_worker,
    write_status,
)
from cnn_core.settings import get_settings


def max_concurrent_runs() -> int:
    return get_settings().max_concurrent_runs


@contextmanager
def _slots_lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".slots.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_claim_slot(run_dir: Path, status: Status) -> bool:
    """Under the lock: start if a slot is free and no older queued run is waiting for it."""
    root = run_dir.parent
    with _slots_lock(root):
        others = [r for r in list_runs(root) if r.path != run_dir]
        active = sum(1 for r in others if r.status.state in ("running", "stopping"))
        older_waiting = any(
            r.status.state == "queued" and r.status.created < status.created and pid_is_worker(r.status.pid)
            for r in others
        )
        if active >= max_concurrent_runs() or older_waiting:
            return False
        status.state, status.pid, status.heartbeat = "running", os.getpid(), time.time()
        status.started = status.started or time.time()
        write_status(run_dir, status)
        return True
