"""The background worker: one detached process per run, started with
`python -m cnn_core.runs.worker RUN_DIR`, talking to the world only through the run directory.

It waits (state 'queued') until fewer than the cap of runs are active, trains, and leaves
the run 'completed', 'stopped' (SIGTERM or the stop file: after the current batch, with a
checkpoint; or a demo's training-time cap, named in status.limit and, as a catalogue key and its
values, in status.limit_key / limit_values, so each visitor reads it in their own language) or
'failed' (with the error).
It checks a demo's limits on the config it reads (cnn_core.runs.demo), whoever wrote the folder.
A queued worker polls for its slot, so slots free themselves even when another worker is killed
and nobody has the app open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from cnn_core.files import open_nofollow, read_json
from cnn_core.i18n import t
from cnn_core.runs.demo import check_config_limits, time_budget_s
from cnn_core.runs.directory import (
    STOP_FILE,
    read_status,
    write_status,
)
from cnn_core.runs.queue import try_claim_slot
from cnn_core.settings import get_settings
from cnn_core.train.config import TrainConfig

POLL_S = 0.5
HEARTBEAT_S = 5.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def start_detached(args: list[str], cwd: Path, log_path: Path, env_extra: dict | None = None) -> subprocess.Popen:
    """`python -m cnn_core.runs.worker ARGS` in its own session, in cwd, its output appended to
    log_path (never through a link, see cnn_core.files), never to ours; reaped when it ends, so a
    long-lived caller (the app) collects no zombies."""
    env = dict(os.environ, **(env_extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    # the worker runs in its run folder: a relative data dir would otherwise put downloads inside the run
    env["CNN_LAB_DATA_DIR"] = str(Path(get_settings().data_dir).resolve())
    log_fd = open_nofollow(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(log_fd, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cnn_core.runs.worker", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=str(cwd),
        )
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def run_worker(run_dir: Path) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop_file = run_dir / STOP_FILE

    def should_stop() -> bool:
        return stop.is_set() or os.path.lexists(stop_file)

    status = read_status(run_dir)
    status.pid, status.error = os.getpid(), None
    status.state = "queued"
    write_status(run_dir, status)
    while not try_claim_slot(run_dir, status):
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
        while not alive.wait(HEARTBEAT_S):
            status.heartbeat = time.time()
            write_status(run_dir, status)

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()

    def finish(state: str, **fields) -> None:
        """The final status: written only once the heartbeat has stopped, so no late beat overwrites it."""
        alive.set()
        beater.join()
        status.state, status.heartbeat = state, time.time()
        for name, value in fields.items():
            setattr(status, name, value)
        write_status(run_dir, status)

    try:
        settings = get_settings()
        # Training takes every core, but at a lower priority, so the dashboard stays responsive; from
        # here on, so that importing torch (seconds of CPU) is low priority too.
        os.nice(max(0, settings.worker_nice - os.nice(0)))  # a spare worker (spare.py) is already there
        # here, not at the top: a worker waiting in the queue stays small (no torch, ~400 MB resident)
        import torch

        from cnn_core.train.loop import StopRequested, run_training

        if settings.worker_threads > 0:
            torch.set_num_threads(settings.worker_threads)
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        check_config_limits(config)
        budget = time_budget_s()
        try:
            result = run_training(
                run_dir, config, should_stop, status, on_log=lambda s: write_status(run_dir, s), time_budget_s=budget
            )
        except StopRequested as stop:
            if stop.out_of_time:  # the key and values too: each visitor reads it in their own language
                values = {"limit": f"{budget:,.0f}"}
                limit = dict(
                    limit=t("limit.time_reached", **values), limit_key="limit.time_reached", limit_values=values
                )
            else:
                limit = dict(limit=None, limit_key=None, limit_values=None)
            finish("stopped", **limit)
            return 0
        finish(
            "completed",
            finished=time.time(),
            step=status.total_steps,
            epoch=status.epochs,
            test_acc=result["test_acc"],
            eta_s=0,
        )
        return 0
    except Exception as exc:  # any failure becomes the run's error message; the log has the trace
        traceback.print_exc()
        finish("failed", error=f"{type(exc).__name__}: {exc}", finished=time.time())
        return 1
    finally:
        alive.set()
        stop_file.unlink(missing_ok=True)  # a link is removed, never its target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--spare":  # a spare worker for a runs root (spare.py)
        from cnn_core.runs.spare import serve

        return serve(Path(args[1]))
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(t("worker.usage"))
        return 0 if args and args[0] in ("-h", "--help") else 2
    return run_worker(Path(args[0]).resolve())


if __name__ == "__main__":
    sys.exit(main())
