"""The background worker: one detached process per run, started with
`python -m cnn_core.runs.worker RUN_DIR`, talking to the world only through the run directory.
A run of several processes is trained under torchrun (torch.distributed.run), which this worker
starts and supervises; each of torchrun's processes is `python -m cnn_core.runs.worker --rank
RUN_DIR`, and its rank 0 writes the run directory. On another machine of a multi-machine run,
`python -m cnn_core.runs.worker RUN_DIR --node-rank R --rdzv-endpoint HOST:PORT` starts that
machine's processes only.

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
    RANKS_STARTED,
    STOP_FILE,
    Status,
    pid_is_worker,
    read_status,
    write_status,
)
from cnn_core.runs.queue import try_claim_slot
from cnn_core.settings import get_settings
from cnn_core.train.config import TrainConfig

POLL_S = 0.5
SUPERVISOR_ENV = "CNN_LAB_SUPERVISOR"  # the supervising worker's pid, for its torchrun processes
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


def _stop_signals(run_dir: Path):
    """A should_stop that says yes after SIGTERM or SIGINT, or once the stop file exists."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop_file = run_dir / STOP_FILE
    return lambda: stop.is_set() or os.path.lexists(stop_file)


def run_worker(run_dir: Path, node_rank: int = 0, endpoint: str | None = None) -> int:
    """A run's worker: it waits for a slot, then trains in this process or, for a run of several
    processes, under torchrun (supervise). Another machine's share of a run (node_rank > 0) only
    starts that machine's processes: node 0's worker keeps the status."""
    if node_rank > 0:
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        return subprocess.call(torchrun_command(run_dir, config, node_rank, endpoint), stdin=subprocess.DEVNULL)
    should_stop = _stop_signals(run_dir)
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
    config = several_processes(run_dir)
    if config is not None:
        return supervise(run_dir, status, should_stop, config, endpoint)
    return train_here(run_dir, status, should_stop)


def several_processes(run_dir: Path):
    """The run's TrainConfig when it asks for several processes (torch-free), else None; a config
    that is not one also gives None: the training then says what is wrong with it."""
    try:
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    except Exception:  # a broken config fails where it is read for training, with its message
        return None
    return config if config.world_size > 1 else None


def torchrun_command(run_dir: Path, config, node_rank: int = 0, endpoint: str | None = None) -> list[str]:
    """torchrun (torch.distributed.run) starting this machine's processes of the run: --standalone on
    one machine; on several, torchrun's static rendezvous at endpoint, this machine being node_rank."""
    nproc, nnodes = config.nproc_per_node, config.nnodes
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", f"--nnodes={nnodes}"]
    if nnodes == 1:
        command.append("--standalone")
    else:
        command += [f"--node-rank={node_rank}", f"--rdzv-endpoint={endpoint}", f"--rdzv-id={run_dir.name}"]
    return command + ["-m", "cnn_core.runs.worker", "--rank", str(run_dir)]


def supervise(run_dir: Path, status, should_stop, config, endpoint: str | None) -> int:
    """Run torchrun for a run of several processes and wait for it. Until rank 0 has taken the status
    over (RANKS_STARTED) this worker keeps its heartbeat; a stop asked of it becomes the stop file,
    which every process sees (they stop together at one step, checkpointed). When the group ends
    with rank 0 still 'running' (a process was killed or a machine lost), the run is marked
    interrupted: it resumes from its last checkpoint, on any number of processes."""
    started = run_dir / f"{RANKS_STARTED}-{os.getpid()}"  # this session's: an earlier one's cannot stop it
    started.unlink(missing_ok=True)
    done = threading.Event()

    def beat():
        asked = False
        while not done.wait(HEARTBEAT_S / 5):
            if should_stop() and not asked:  # once: rank 0 removes the file when it has stopped
                asked = True
                os.close(open_nofollow(run_dir / STOP_FILE, os.O_WRONLY | os.O_CREAT))
            if not os.path.lexists(started) and not done.is_set():
                status.heartbeat = time.time()
                write_status(run_dir, status)

    environment = dict(os.environ, **{SUPERVISOR_ENV: str(os.getpid())})
    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    try:
        code = subprocess.call(
            torchrun_command(run_dir, config, 0, endpoint), stdin=subprocess.DEVNULL, env=environment
        )
    finally:
        done.set()
        beater.join()
    started.unlink(missing_ok=True)
    raw = read_json(run_dir / "status.json") or {}
    # still this session's and unfinished: rank 0 (or this worker) left it running; a status that
    # rank 0 finished, or that a resume since has taken over, is left as it is
    if raw.get("state") in ("running", "stopping") and not pid_is_worker_elsewhere(raw.get("pid")):
        final = read_status(run_dir)
        final.state, final.error, final.heartbeat = "interrupted", t("run.err.group_ended", code=code), time.time()
        write_status(run_dir, final)
    return code


def pid_is_worker_elsewhere(pid) -> bool:
    """Whether pid is a live worker other than this process (a resumed run's new worker)."""
    return isinstance(pid, int) and pid != os.getpid() and pid_is_worker(pid)


def run_rank(run_dir: Path) -> int:
    """One process of a torchrun group: it joins the group and trains its share; rank 0 writes the
    run directory (status, metrics, checkpoints) and tells the supervisor it has taken over."""
    should_stop = _stop_signals(run_dir)
    from cnn_core.train import distributed  # torch

    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    ranks = distributed.join(config.device)
    try:
        return train_here(run_dir, read_status(run_dir) if ranks.main else Status(), should_stop, ranks)
    finally:
        distributed.leave(ranks)


def train_here(run_dir: Path, status, should_stop, ranks=None) -> int:
    """Train the run in this process (one of a group with ranks): the status kept up to date and
    left 'completed', 'stopped' or 'failed'. Only rank 0 writes it."""
    main = ranks is None or ranks.main

    def write(s) -> None:
        if main:
            write_status(run_dir, s)

    if main:
        status.pid, status.state, status.heartbeat = os.getpid(), "running", time.time()
        write(status)
        supervisor = os.environ.get(SUPERVISOR_ENV, "")
        if ranks is not None and ranks.distributed and supervisor.isdigit():  # its heartbeat stops here
            os.close(open_nofollow(run_dir / f"{RANKS_STARTED}-{supervisor}", os.O_WRONLY | os.O_CREAT))
    # A heartbeat thread keeps status fresh through long steps (first-batch compile, slow CPU).
    alive = threading.Event()

    def beat():
        while not alive.wait(HEARTBEAT_S):
            status.heartbeat = time.time()
            write(status)

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()

    def finish(state: str, **fields) -> None:
        """The final status: written only once the heartbeat has stopped, so no late beat overwrites it."""
        alive.set()
        beater.join()
        status.state, status.heartbeat = state, time.time()
        for name, value in fields.items():
            setattr(status, name, value)
        write(status)

    several = ranks is not None and ranks.distributed
    try:
        settings = get_settings()
        # Training takes every core, but at a lower priority, so the dashboard stays responsive; from
        # here on, so that importing torch (seconds of CPU) is low priority too.
        os.nice(max(0, settings.worker_nice - os.nice(0)))  # a spare worker (spare.py) is already there
        # here, not at the top: a worker waiting in the queue stays small (no torch, ~400 MB resident)
        import torch

        from cnn_core.train.distributed import ONE_PROCESS
        from cnn_core.train.loop import StopRequested, run_training

        if settings.worker_threads > 0:
            torch.set_num_threads(settings.worker_threads)
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        check_config_limits(config)
        budget = time_budget_s()
        try:
            result = run_training(
                run_dir, config, should_stop, status, on_log=write, time_budget_s=budget, ranks=ranks or ONE_PROCESS
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
        if ranks is not None:
            ranks.barrier()  # every process waits for rank 0's test and files
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
        if several:
            from cnn_core.train.distributed import lost_peer

            if lost_peer(exc):
                alive.set()  # another process died: the supervisor marks the run interrupted
                return 1
        finish("failed", error=f"{type(exc).__name__}: {exc}", finished=time.time())
        return 1
    finally:
        alive.set()
        if main:
            (run_dir / STOP_FILE).unlink(missing_ok=True)  # a link is removed, never its target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--spare":  # a spare worker for a runs root (spare.py)
        from cnn_core.runs.spare import serve

        return serve(Path(args[1]))
    if len(args) == 2 and args[0] == "--rank":  # one process of a torchrun group
        return run_rank(Path(args[1]).resolve())
    if len(args) == 5 and args[1] == "--node-rank" and args[3] == "--rdzv-endpoint" and args[2].isdigit():
        return run_worker(Path(args[0]).resolve(), int(args[2]), args[4])
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(t("worker.usage"))
        return 0 if args and args[0] in ("-h", "--help") else 2
    return run_worker(Path(args[0]).resolve())


if __name__ == "__main__":
    sys.exit(main())
