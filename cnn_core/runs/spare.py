"""A spare worker: a detached process that has already imported torch and the training code and
waits for a run, so that a launch from the app trains within a fraction of a second instead of
after the seconds a fresh Python spends importing torch.

It talks through files under the runs root, like every worker: `.spares/<pid>.ready` says it is
warm and waiting. A launch takes it by renaming that file to `<pid>.taken` (a rename succeeds for
one launcher only) and then writes the run's id to `<pid>.job`. The spare picks the job up,
sends its output to the run's worker.log and becomes that run's worker (cnn_core.runs.worker).
A spare leaves when the process that started it (the app's server) is gone, after
`spare_idle_s` without a job, or on SIGTERM; it never outlives its server by more than a poll.
Started with `python -m cnn_core.runs.worker --spare RUNS_ROOT`: its command line names the worker
module, as every worker's does (directory.pid_is_worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cnn_core.files import open_nofollow, read_json, write_json_atomic
from cnn_core.runs.directory import RunError, pid_is_worker, run_path
from cnn_core.settings import get_settings

SPARES_DIR = ".spares"
POLL_S = 0.02
PARENT_ENV = "CNN_LAB_SPARE_PARENT"


def spares_dir(root: Path) -> Path:
    return root / SPARES_DIR


def _pid_of(path: Path) -> int | None:
    stem = path.name.split(".", 1)[0]
    return int(stem) if stem.isdigit() else None


def hand_to_spare(run_dir: Path) -> int | None:
    """Give run_dir to a warm spare of its runs root; the spare's pid, or None when none is waiting
    (the caller then starts a fresh worker)."""
    folder = spares_dir(run_dir.parent)
    if not folder.is_dir() or folder.is_symlink():
        return None
    for ready in sorted(folder.glob("*.ready")):
        pid = _pid_of(ready)
        if pid is None or not pid_is_worker(pid):
            ready.unlink(missing_ok=True)  # a spare that died waiting
            continue
        try:
            os.rename(ready, folder / f"{pid}.taken")  # one launcher wins each spare
        except FileNotFoundError:
            continue
        write_json_atomic(folder / f"{pid}.job", {"run_id": run_dir.name})
        return pid
    return None


def waiting_spares(root: Path) -> list[int]:
    """The pids of the spares of root that are alive and warm or warming up."""
    folder = spares_dir(root)
    if not folder.is_dir() or folder.is_symlink():
        return []
    pids = {_pid_of(p) for p in folder.glob("*.starting")} | {_pid_of(p) for p in folder.glob("*.ready")}
    return sorted(pid for pid in pids if pid is not None and pid_is_worker(pid))


def start_spare(root: Path) -> subprocess.Popen:
    """Start a spare for root, detached, its output to .spares/spare.log."""
    from cnn_core.runs.worker import start_detached  # here: the worker module imports this one when it serves

    folder = spares_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    # it may start after we are gone: it must know whom to outlive
    parent = {PARENT_ENV: str(os.getpid())}
    return start_detached(["--spare", str(root.resolve())], folder, folder / "spare.log", parent)


def ensure_spare(root: Path) -> None:
    """One spare waiting (or warming up) for root, when the settings want spares. A spare only
    makes launches quicker: a runs folder it cannot write to leaves launches as they were."""
    if get_settings().spare_idle_s <= 0 or spares_dir(root).is_symlink() or waiting_spares(root):
        return  # a link is never followed out of the runs folder
    try:
        proc = start_spare(root)
        # marked at once, so that a second call before the spare has started does not start another
        write_json_atomic(spares_dir(root) / f"{proc.pid}.starting", {"pid": proc.pid})
    except OSError:
        return


def _warm_up() -> None:
    """Import what a run's first step needs, at the worker's low priority."""
    settings = get_settings()
    os.nice(settings.worker_nice)
    import torch

    # torch.optim's first optimizer imports torch._dynamo, and use_deterministic_algorithms torch._inductor:
    # together most of a fresh worker's start, so they are imported here, before any run comes
    import torch._dynamo  # noqa: F401
    import torch._inductor.config  # noqa: F401

    import cnn_core.data.loaders  # noqa: F401 - imported now, not when the run starts
    import cnn_core.train.loop  # noqa: F401

    if settings.worker_threads > 0:
        torch.set_num_threads(settings.worker_threads)
    # one tiny step, so that the run's first one does not pay for the kernels' and autograd's set-up;
    # the random streams are as they were after it (the run seeds its own anyway)
    with torch.random.fork_rng(devices=[]):
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(72, 2))
        optimizer = torch.optim.Adam(net.parameters())
        torch.nn.functional.cross_entropy(net(torch.ones(2, 1, 8, 8)), torch.tensor([0, 1])).backward()
        optimizer.step()


def _take(job: Path, taken: Path, root: Path) -> Path | None:
    """The run named in the job file (which must be a run folder of root), the files removed."""
    record = read_json(job)
    job.unlink(missing_ok=True)
    taken.unlink(missing_ok=True)
    try:
        return run_path(str(record.get("run_id", "")) if isinstance(record, dict) else "", root)
    except RunError:
        return None


def wait_for_job(root: Path, parent: int, idle_s: float, stop: threading.Event) -> Path | None:
    """The run handed to this spare, or None when it should leave (server gone, idle, SIGTERM)."""
    folder = spares_dir(root)
    pid = os.getpid()
    job = folder / f"{pid}.job"
    ready = folder / f"{pid}.ready"
    write_json_atomic(ready, {"pid": pid, "since": time.time()})
    (folder / f"{pid}.starting").unlink(missing_ok=True)
    deadline = time.monotonic() + idle_s
    while not stop.is_set() and os.getppid() == parent and time.monotonic() < deadline:
        if os.path.lexists(job):
            return _take(job, folder / f"{pid}.taken", root)
        stop.wait(POLL_S)
    try:
        os.rename(ready, folder / f"{pid}.gone")  # leaving, unless a launcher took us this moment
        (folder / f"{pid}.gone").unlink(missing_ok=True)
        return None
    except FileNotFoundError:
        pass
    for _ in range(int(5 / POLL_S)):  # taken: its job file follows at once
        if os.path.lexists(job):
            return _take(job, folder / f"{pid}.taken", root)
        time.sleep(POLL_S)
    return None


def become_worker(run_dir: Path) -> int:
    """This process, from now on, is run_dir's worker: output to its log, run in its folder."""
    log_fd = open_nofollow(run_dir / "worker.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.chdir(run_dir)
    from cnn_core.runs.worker import run_worker

    return run_worker(run_dir)


def serve(root: Path) -> int:
    """The spare's life: warm up, wait for a run, and train it (or leave)."""
    root = root.resolve()
    given = os.environ.get(PARENT_ENV, "")
    parent = int(given) if given.isdigit() else os.getppid()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        _warm_up()
        run_dir = wait_for_job(root, parent, get_settings().spare_idle_s, stop)
    finally:
        (spares_dir(root) / f"{os.getpid()}.starting").unlink(missing_ok=True)
    if run_dir is None:
        return 0
    return become_worker(run_dir)
