"""Starting runs: a new run directory and its detached worker, or a worker that resumes a run."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from cnn_core.arch.presets import preset_spec
from cnn_core.arch.spec import is_backbone, normalize_backbone
from cnn_core.errors import CnnLabError
from cnn_core.files import read_json, write_json_atomic
from cnn_core.i18n import t
from cnn_core.runs.demo import check_config_limits, check_launch_limits, check_resume_limits
from cnn_core.runs.directory import (
    STOP_FILE,
    RunError,
    Status,
    check_access,
    new_run_id,
    read_status,
    record_owner,
    run_path,
    runs_root,
    write_status,
)
from cnn_core.runs.queue import runs_lock
from cnn_core.runs.spare import hand_to_spare
from cnn_core.runs.worker import start_detached
from cnn_core.settings import get_settings
from cnn_core.train.config import ConfigError, TrainConfig


def spawn_worker(run_dir: Path, node_rank: int = 0, endpoint: str | None = None) -> subprocess.Popen:
    """Start a fresh detached worker for run_dir; its output goes to run_dir/worker.log (another
    machine's share of a multi-machine run: worker-node<R>.log)."""
    if endpoint is None:
        return start_detached([str(run_dir)], run_dir, run_dir / "worker.log")
    args = [str(run_dir), "--node-rank", str(node_rank), "--rdzv-endpoint", endpoint]
    return start_detached(args, run_dir, run_dir / ("worker.log" if node_rank == 0 else f"worker-node{node_rank}.log"))


def start_worker(run_dir: Path, world_size: int = 1, endpoint: str | None = None) -> None:
    """A warm spare worker takes a one-process run when one is waiting (the app keeps one, see
    spare.py); else a fresh worker starts (it starts torchrun for a run of several processes)."""
    if world_size > 1 or hand_to_spare(run_dir) is None:
        spawn_worker(run_dir, 0, endpoint)


def check_endpoint(config, endpoint: str | None) -> None:
    """A run on several machines needs torchrun's rendezvous endpoint, HOST:PORT; ConfigError else."""
    if config.nnodes == 1:
        return
    host, _, port = (endpoint or "").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise ConfigError(t("launch.err.endpoint", endpoint=repr(str(endpoint)[:80]), nnodes=config.nnodes))


def join_run(run_id: str, root: str | Path | None, node_rank: int, endpoint: str, wait_s: float = 300.0) -> Path:
    """Start this machine's processes of a multi-machine run that machine 0 launches (or launched)
    under run_id in the shared runs folder: waits for its config, then starts a worker for this
    node_rank. RunError or ConfigError when there is no such run or it is not one for this machine."""
    run_dir = run_path(run_id, root)
    deadline = time.monotonic() + wait_s
    while read_json(run_dir / "config.json") is None:
        if time.monotonic() > deadline:
            raise RunError(t("launch.err.join_timeout", run_id=run_id, seconds=f"{wait_s:.0f}"))
        time.sleep(0.5)
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    if not 0 < node_rank < config.nnodes:
        raise ConfigError(t("launch.err.node_rank", node_rank=node_rank, nnodes=config.nnodes))
    check_endpoint(config, endpoint)
    spawn_worker(run_dir, node_rank, endpoint)
    return run_dir


def check_launch(config) -> None:
    """Everything a run needs, checked before its directory exists: the config (a user's network
    must fit the dataset as written), the device, the dataset's files or folder and pretrained
    weights. The data and folder paths become absolute, since the worker runs in the run directory.
    Raises the project's own errors (ConfigError, DatasetError, PretrainedWeightsUnavailable)."""
    config.validate()
    check_config_limits(config)  # a demo's: before any download is tried
    config.data_dir = str(Path(config.data_dir or get_settings().data_dir).expanduser().resolve())
    if config.folder_path:
        config.folder_path = str(Path(config.folder_path).expanduser().resolve())
    if config.device in ("cuda", "mps"):
        from cnn_core.train.devices import available_devices  # torch: only when a GPU is asked for

        if config.device not in available_devices():
            raise ConfigError(t("launch.err.device", device=config.device, available=", ".join(available_devices())))
    try:
        if config.dataset in ("mnist", "fashion_mnist", "cifar10", "folder"):
            from cnn_core.data.loaders import check_dataset_available  # torch: only for these datasets

            check_dataset_available(config.dataset, config.data_dir, config.folder_path)
        spec = config.spec if config.spec is not None else preset_spec(config.preset)
        if is_backbone(spec) and normalize_backbone(spec)["pretrained"]:
            from cnn_core.arch import backbones  # torch: only for pretrained transfer-learning networks

            name = normalize_backbone(spec)["name"]
            if not backbones.weights_cached(name):
                backbones.fetch_weights(name)
    except ConfigError:
        raise
    except CnnLabError as exc:  # a DatasetError or PretrainedWeightsUnavailable: one type for every caller
        raise ConfigError(str(exc)) from exc


def launch_run(
    config,
    root: str | Path | None = None,
    visitor: str | None = None,
    run_id: str | None = None,
    endpoint: str | None = None,
) -> Path:
    """Check everything (check_launch, and a demo's limits for this visitor), then create the run
    directory, owned by visitor (None: the operator's), and start its worker. run_id: the run's
    name when the caller chooses it (every machine of a multi-machine run names the same one);
    endpoint: torchrun's rendezvous HOST:PORT for a run on several machines, this being machine 0."""
    check_launch(config)
    check_endpoint(config, endpoint)
    base = runs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    with runs_lock(base):  # the limits count runs: two launches must not both take the last place
        check_launch_limits(visitor, base)
        run_dir = run_path(run_id or new_run_id(config.dataset), base)
        if run_id is not None and os.path.lexists(run_dir):
            raise RunError(t("launch.err.run_exists", run_id=run_id))
        run_dir.mkdir()
        if visitor is not None:
            record_owner(run_dir, visitor)
        write_json_atomic(run_dir / "config.json", config.to_dict())
        write_status(run_dir, Status(state="queued", epochs=config.epochs, world_size=config.world_size))
    start_worker(run_dir, config.world_size, endpoint)
    return run_dir


def resume_run(
    run_dir: Path,
    visitor: str | None = None,
    nproc_per_node: int | None = None,
    nnodes: int | None = None,
    endpoint: str | None = None,
) -> None:
    """Restart the worker of a stopped, interrupted or failed run; it continues from its checkpoint,
    on as many processes as before or, given nproc_per_node or nnodes, on that many (a checkpoint
    does not depend on the number of processes)."""
    check_access(run_dir, visitor, "resume")
    status = read_status(run_dir)
    if status.state not in ("stopped", "interrupted", "failed"):
        raise RunError(t("run.err.not_resumable", run_id=run_dir.name, state=t(f"state.{status.state}")))
    try:
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        if nproc_per_node is not None or nnodes is not None:
            config.nproc_per_node = config.nproc_per_node if nproc_per_node is None else nproc_per_node
            config.nnodes = config.nnodes if nnodes is None else nnodes
            config.validate()
            check_config_limits(config)
            write_json_atomic(run_dir / "config.json", config.to_dict())
        check_endpoint(config, endpoint)
        check_resume_limits(config, status)
    except ConfigError as exc:
        raise RunError(str(exc)) from exc
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    status.state, status.pid, status.error, status.heartbeat = "queued", None, None, time.time()
    status.limit = status.limit_key = status.limit_values = None
    status.world_size = config.world_size
    write_status(run_dir, status)
    start_worker(run_dir, config.world_size, endpoint)
