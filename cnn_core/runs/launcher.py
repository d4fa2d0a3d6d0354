"""Starting runs: a new run directory and its detached worker, or a worker that resumes a run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from cnn_core.files import write_json_atomic
from cnn_core.i18n import t
from cnn_core.runs.directory import (
    STOP_FILE,
    RunError,
    Status,
    new_run_id,
    read_status,
    run_path,
    runs_root,
    write_status,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def spawn_worker(run_dir: Path) -> subprocess.Popen:
    """Start a detached worker for run_dir; its output goes to run_dir/worker.log, never to ours."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with open(run_dir / "worker.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cnn_core.runs.worker", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=str(run_dir),
        )
    # Reap it when it ends, so a long-lived caller (the app) collects no zombies.
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def launch_run(config, root: str | Path | None = None) -> Path:
    """Create the run directory for a validated TrainConfig and start its worker."""
    config.validate()
    base = runs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    run_dir = run_path(new_run_id(config.dataset), base)
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", config.to_dict())
    write_status(run_dir, Status(state="queued", epochs=config.epochs))
    spawn_worker(run_dir)
    return run_dir


def resume_run(run_dir: Path) -> None:
    """Restart the worker of a stopped, interrupted or failed run; it continues from its checkpoint."""
    status = read_status(run_dir)
    if status.state not in ("stopped", "interrupted", "failed"):
        raise RunError(t("run.err.not_resumable", run_id=run_dir.name, state=status.state))
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    status.state, status.pid, status.error, status.heartbeat = "queued", None, None, time.time()
    write_status(run_dir, status)
    spawn_worker(run_dir)
