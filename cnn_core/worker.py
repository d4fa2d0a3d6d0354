"""The background worker: one detached process per run, started with
`python -m cnn_core.worker RUN_DIR`, talking to the world only through the run directory.

It waits (state 'queued') until fewer than the cap of runs are active, trains, and leaves
the run 'completed', 'stopped' (SIGTERM or the stop file: after the current batch, with a
checkpoint) or 'failed' (with the error). A queued worker polls for its slot, so slots free
themselves even when another worker is killed and nobody has the app open.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from cnn_core.i18n import t
from cnn_core.runs import (STOP_FILE, RunError, Status, list_runs, new_run_id, pid_is_worker,
                           read_json, read_status, run_path, runs_root, write_json_atomic, write_status)

POLL_S = 0.5
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def max_concurrent_runs() -> int:
    from cnn_core.settings import get_settings
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
        older_waiting = any(r.status.state == "queued" and r.status.created < status.created
                            and pid_is_worker(r.status.pid) for r in others)
        if active >= max_concurrent_runs() or older_waiting:
            return False
        status.state, status.pid, status.heartbeat = "running", os.getpid(), time.time()
        status.started = status.started or time.time()
        write_status(run_dir, status)
        return True


def run_worker(run_dir: Path) -> int:
    from cnn_core.config import TrainConfig

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop_file = run_dir / STOP_FILE

    def should_stop() -> bool:
        return stop.is_set() or stop_file.exists()

    status = read_status(run_dir)
    status.pid, status.error = os.getpid(), None
    status.state = "queued"
    write_status(run_dir, status)
    while not _try_claim_slot(run_dir, status):
        if should_stop():
            status.state = "stopped"
            write_status(run_dir, status)
            return 0
        status.heartbeat = time.time()
        write_status(run_dir, status)
        time.sleep(POLL_S)

    # A heartbeat thread keeps status fresh through long steps (first-batch compile, slow CPU).
    alive = threading.Event()

    def beat():
        while not alive.wait(5.0):
            status.heartbeat = time.time()
            write_status(run_dir, status)

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    try:
        import torch

        from cnn_core.engine import StopRequested, run_training
        from cnn_core.settings import get_settings
        settings = get_settings()
        if settings.worker_threads > 0:
            torch.set_num_threads(settings.worker_threads)
        # Training takes every core, but at a lower priority, so the dashboard stays responsive.
        os.nice(settings.worker_nice)
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        try:
            result = run_training(run_dir, config, should_stop, status, on_log=lambda s: write_status(run_dir, s))
        except StopRequested:
            alive.set()
            status.state, status.heartbeat = "stopped", time.time()
            write_status(run_dir, status)
            return 0
        alive.set()
        status.state, status.finished, status.heartbeat = "completed", time.time(), time.time()
        status.step, status.epoch, status.test_acc, status.eta_s = status.total_steps, status.epochs, result["test_acc"], 0
        write_status(run_dir, status)
        return 0
    except Exception as exc:  # any failure becomes the run's error message; the log has the trace
        alive.set()
        traceback.print_exc()
        status.state, status.error, status.finished = "failed", f"{type(exc).__name__}: {exc}", time.time()
        write_status(run_dir, status)
        return 1
    finally:
        alive.set()
        stop_file.unlink(missing_ok=True)


def spawn_worker(run_dir: Path) -> subprocess.Popen:
    """Start a detached worker for run_dir; its output goes to run_dir/worker.log, never to ours."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with open(run_dir / "worker.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cnn_core.worker", str(run_dir)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                cwd=str(run_dir))
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
    (run_dir / "stop-requested").unlink(missing_ok=True)
    status.state, status.pid, status.error, status.heartbeat = "queued", None, None, time.time()
    write_status(run_dir, status)
    spawn_worker(run_dir)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m cnn_core.worker RUN_DIR\n\nTrain the run in RUN_DIR (normally started by "
              "`python -m cnn_core train` or the app).")
        return 0 if args and args[0] in ("-h", "--help") else 2
    return run_worker(Path(args[0]).resolve())


if __name__ == "__main__":
    sys.exit(main())
