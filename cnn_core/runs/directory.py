"""The run directory: a run is a directory under the runs root, and this module owns its
layout, its ids and paths, its status file, listing, stopping and deleting runs.

    runs/<run_id>/config.json      the TrainConfig
                  status.json      state, pid, heartbeat, progress (rewritten atomically)
                  metrics.jsonl    see cnn_core.runs.metrics
                  checkpoints/     see cnn_core.train.checkpoints
                  model.safetensors, predictions.json, worker.log, stop-requested
                  owner.json       who launched it (a hosted demo's visitor, or the example runs)

The worker and the UI talk only through these files. Torch-free.

Who may do what: `visitor=None` is the operator (local use, the command line) and may do
everything. A visitor (a hosted demo's, cnn_core.runs.visitors) sees and changes only the runs
they launched, and may read and download the example runs; another visitor's run answers as a
run that does not exist, so ids cannot be probed. Every function here that reads or changes a
run takes the visitor and checks (check_access) before it touches anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cnn_core.errors import CnnLabError
from cnn_core.files import UnsafePathError, open_nofollow, read_json, write_json_atomic
from cnn_core.i18n import t
from cnn_core.settings import get_settings

RUN_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


MAX_RUN_REF_CHARS = 4096  # a run id or a path to a run folder; longer is garbage


ACTIVE_STATES = ("queued", "running", "stopping")


STALE_HEARTBEAT_S = 30.0


STOP_FILE = "stop-requested"
RANKS_STARTED = ".ranks-started"  # rank 0 of a torchrun group has taken the status over (worker.supervise)


OWNER_FILE = "owner.json"


EXAMPLES_OWNER = "examples"  # the owner of the shared example runs: everyone reads them, nobody changes them


READ_ACTIONS = ("read", "download")


CHANGE_ACTIONS = ("stop", "resume", "delete")


class RunError(CnnLabError, ValueError):
    """A run id or path that is not acceptable, or a run that does not exist."""


def runs_root(root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else get_settings().runs_dir


def new_run_id(dataset: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-")[:20] or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def _shown(text: str) -> str:
    """A user's run reference, cut short and with control characters escaped, for a message."""
    return repr(text[:80])[1:-1]


def run_path(run_id: str, root: str | Path | None = None) -> Path:
    """The directory of run_id, refusing any id that is malformed or escapes the runs root."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunError(t("run.err.bad_id", run_id=_shown(str(run_id))))
    try:
        base = runs_root(root).resolve()
        path = (base / run_id).resolve()
    except (OSError, ValueError) as exc:  # a root with a NUL, too long, a link loop
        raise RunError(t("run.err.outside", run_id=run_id)) from exc
    if path.parent != base or "\x00" in str(path) or len(str(path)) > MAX_RUN_REF_CHARS:
        raise RunError(t("run.err.outside", run_id=run_id))
    return path


def _real_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def resolve_run_dir(
    path_or_id: str | Path, root: str | Path | None = None, visitor: str | None = None, action: str = "read"
) -> Path:
    """A run id or a path to a run directory -> that directory, which must be a real folder (not a
    link) directly inside the runs root, whichever way the root was given; a bare id is looked up
    only in the root, never in the current directory; and visitor must be allowed action on it
    (check_access). Anything else is a RunError."""
    if not isinstance(path_or_id, (str, Path)):
        raise RunError(t("run.err.bad_id", run_id=_shown(str(path_or_id))))
    text = str(path_or_id)
    if not text or "\x00" in text or len(text) > MAX_RUN_REF_CHARS:
        raise RunError(t("run.err.bad_id", run_id=_shown(text)))
    try:
        base = os.path.realpath(runs_root(root))
        if RUN_ID_PATTERN.fullmatch(text):
            name, parent = text, base
        else:
            absolute = os.path.abspath(text)
            name, parent = os.path.basename(absolute), os.path.realpath(os.path.dirname(absolute))
        if parent != base:
            raise RunError(t("run.err.outside", run_id=_shown(text)))
        if not RUN_ID_PATTERN.fullmatch(name):
            raise RunError(t("run.err.bad_id", run_id=_shown(name)))
        path = Path(base) / name
        if path.is_symlink():
            raise RunError(t("run.err.link", run_id=_shown(text)))
        if not path.is_dir() or not _real_file(path / "config.json"):
            raise RunError(t("run.err.missing", path=_shown(text)))
    except RunError:
        raise
    except (OSError, ValueError) as exc:  # names too long for the file system, unreadable folders
        raise RunError(t("run.err.missing", path=_shown(text))) from exc
    check_access(path, visitor, action)
    return path


# ---------------------------------------------------------------- owners


def record_owner(run_dir: Path, owner: str) -> None:
    write_json_atomic(run_dir / OWNER_FILE, {"owner": owner})


def run_owner(run_dir: Path) -> str | None:
    """The visitor who launched the run, EXAMPLES_OWNER, or None (launched by the operator)."""
    owner = (read_json(run_dir / OWNER_FILE) or {}).get("owner")
    return owner if isinstance(owner, str) else None


def can_see(owner: str | None, visitor: str | None) -> bool:
    """Whether visitor may see a run of this owner: the operator every run, a visitor their own
    and the examples."""
    return visitor is None or owner in (visitor, EXAMPLES_OWNER)


def check_access(run_dir: Path, visitor: str | None, action: str) -> None:
    """Raise RunError unless visitor may do action ('read', 'download', 'stop', 'resume', 'delete')
    to the run. Another visitor's run gets the message of a run that does not exist."""
    if action not in READ_ACTIONS + CHANGE_ACTIONS:
        raise ValueError(f"unknown action {action!r}")  # a programming error, never a user's
    if visitor is None:
        return
    owner = run_owner(run_dir)
    if owner == visitor:
        return
    if owner == EXAMPLES_OWNER:
        if action in READ_ACTIONS:
            return
        raise RunError(t("run.err.example", run_id=run_dir.name))
    raise RunError(t("run.err.missing", path=run_dir.name))


def read_run_file(run_dir: Path, name: str, visitor: str | None = None) -> bytes:
    """The bytes of one file of the run (a download), for a visitor who may download it; never
    through a link."""
    check_access(run_dir, visitor, "download")
    try:
        with os.fdopen(open_nofollow(run_dir / name), "rb") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise RunError(t("run.err.no_file", run_id=run_dir.name, name=name)) from exc
    except UnsafePathError as exc:
        raise RunError(str(exc)) from exc


@dataclass
class Status:
    state: str = "queued"
    pid: int | None = None
    heartbeat: float | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    total_steps: int = 0
    images_per_s: float | None = None
    eta_s: float | None = None
    error: str | None = None
    best_val_acc: float | None = None
    test_acc: float | None = None
    device: str | None = None
    world_size: int = 1  # processes training the run together (torchrun), all machines counted
    train_s: float = 0.0  # training time over all sessions, for a demo's cap on it
    limit: str | None = None  # the limit that stopped the run, in words (the worker's language)
    limit_key: str | None = None  # the same as a catalogue key and its values, shown in the visitor's
    limit_values: dict | None = None  # language; an older status file has only the words

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def limit_text(self) -> str | None:
        """The limit that stopped the run in the current language (from its key; an older status
        file has only the words, in the language of the worker that wrote them)."""
        try:
            return t(self.limit_key, **(self.limit_values or {})) if self.limit_key else self.limit
        except (KeyError, IndexError, ValueError):
            return self.limit or self.limit_key


def pid_alive(pid: int) -> bool:
    """True when process pid exists and has not finished (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust the signal probe
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def pid_is_worker(pid: int | None) -> bool:
    """True when pid is alive and is one of our workers (not a recycled pid)."""
    if not pid or not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the signal probe
    return b"cnn_core.runs.worker" in cmdline


def read_status(run_dir: Path) -> Status:
    """The run's status, with a dead or silent worker reported as interrupted."""
    raw = read_json(run_dir / "status.json") or {}
    known = {k: v for k, v in raw.items() if k in Status.__dataclass_fields__}
    status = Status(**known)
    if status.state in ("running", "stopping"):
        stale = status.heartbeat is None or time.time() - status.heartbeat > STALE_HEARTBEAT_S
        if stale or not pid_is_worker(status.pid):
            status.state = "interrupted"
    elif status.state == "queued":
        # A waiting worker beats every half second; none for a while means it died or never came.
        since = status.heartbeat or status.created
        if time.time() - since > STALE_HEARTBEAT_S or (status.pid is not None and not pid_is_worker(status.pid)):
            status.state = "interrupted"
    return status


def write_status(run_dir: Path, status: Status) -> None:
    write_json_atomic(run_dir / "status.json", asdict(status))


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: Status
    config: dict
    owner: str | None = None  # run_owner, read once with the rest


def list_runs(root: str | Path | None = None, visitor: str | None = None) -> list[RunInfo]:
    """Every run under the root that visitor may see (can_see), newest first, each read once
    (config, status, owner); directories that are not runs are ignored."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    runs = []
    for path in base.iterdir():
        # a link is never a run: it would lead reads (and deletes) out of the runs root
        if path.is_symlink() or not path.is_dir() or not RUN_ID_PATTERN.fullmatch(path.name):
            continue
        config = read_json(path / "config.json")
        owner = run_owner(path)
        if config is None or not can_see(owner, visitor):
            continue
        runs.append(RunInfo(path.name, path, read_status(path), config, owner))
    runs.sort(key=lambda r: r.status.created, reverse=True)
    return runs


def request_stop(run_dir: Path, visitor: str | None = None) -> None:
    """Ask the worker to stop after its current batch; it checkpoints and reports 'stopped'."""
    check_access(run_dir, visitor, "stop")
    try:
        os.close(open_nofollow(run_dir / STOP_FILE, os.O_WRONLY | os.O_CREAT))
    except UnsafePathError as exc:  # a planted link: its target is never created
        raise RunError(str(exc)) from exc
    status = read_status(run_dir)
    if status.state == "queued" and status.pid is None:
        status.state = "stopped"
        write_status(run_dir, status)
    elif status.pid and pid_is_worker(status.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(status.pid, signal.SIGTERM)


def delete_run(run_dir: Path, visitor: str | None = None) -> None:
    """Remove a run that is not active; an active one must be stopped first."""
    check_access(run_dir, visitor, "delete")
    status = read_status(run_dir)
    if status.state in ACTIVE_STATES:
        raise RunError(t("run.err.delete_active", run_id=run_dir.name, state=status.state))
    shutil.rmtree(run_dir)
