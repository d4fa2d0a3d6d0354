"""A hosted demo's limits (settings.demo, CNN_LAB_DEMO): what may be launched or resumed, and the
runs folder kept under its disk cap.

The launcher calls check_launch_limits before a run exists and check_resume_limits before a worker
restarts; the worker calls check_config_limits again on the config it reads (a run folder written
by hand gets no further) and stops a run whose training time reaches max_run_seconds. Every refusal
is a ConfigError whose message names the limit and its value. Outside demo mode only the epoch cap
applies (10,000 unless set). Torch-free.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cnn_core.arch.presets import preset_spec
from cnn_core.arch.spec import SpecError, is_backbone, normalize_backbone
from cnn_core.data.catalog import EMBEDDED_DATASETS
from cnn_core.i18n import t
from cnn_core.runs.directory import (
    ACTIVE_STATES,
    EXAMPLES_OWNER,
    RunError,
    Status,
    list_runs,
)
from cnn_core.settings import get_settings
from cnn_core.train.config import ConfigError


def _megabytes(n: int) -> str:
    return f"{n / 2**20:,.0f}"


def check_config_limits(config) -> None:
    """The limits one config must keep: epochs always; in a demo also the embedded datasets, the
    CPU and no pretrained weights (a download). A demo's 'auto' device becomes 'cpu'."""
    settings = get_settings()
    if config.epochs > settings.max_epochs:
        raise ConfigError(t("limit.epochs", epochs=config.epochs, limit=settings.max_epochs))
    if not settings.demo:
        return
    if config.dataset not in EMBEDDED_DATASETS or config.folder_path:
        raise ConfigError(t("limit.dataset", dataset=config.dataset, allowed=", ".join(EMBEDDED_DATASETS)))
    if config.device not in ("cpu", "auto"):
        raise ConfigError(t("limit.cpu", device=config.device))
    if config.world_size > 1:  # a shared server trains each run in one process
        raise ConfigError(t("limit.processes", n=config.world_size))
    config.device = "cpu"
    try:
        spec = config.spec if config.spec is not None else preset_spec(config.preset)
        pretrained = is_backbone(spec) and normalize_backbone(spec)["pretrained"]
    except SpecError:
        return  # the config's own check explains a broken spec
    if pretrained:
        raise ConfigError(t("limit.pretrained"))


def check_launch_limits(visitor: str | None, root: Path) -> None:
    """Before a new run exists (under the runs lock, so two launches cannot both take the last
    place; the config's own limits were checked by check_launch before the lock): in a demo the runs
    this visitor keeps, the runs waiting in the queue, and the disk the runs folder uses (pruned first)."""
    settings = get_settings()
    if not settings.demo:
        return
    runs = list_runs(root)
    if visitor is not None and visitor != EXAMPLES_OWNER and settings.max_runs_per_visitor:
        mine = sum(1 for run in runs if run.owner == visitor)
        if mine >= settings.max_runs_per_visitor:
            raise ConfigError(t("limit.runs_per_visitor", limit=settings.max_runs_per_visitor))
    if settings.max_queued_runs:
        waiting = sum(1 for run in runs if run.status.state == "queued")
        if waiting >= settings.max_queued_runs:
            raise ConfigError(t("limit.queue", limit=settings.max_queued_runs))
    if settings.max_runs_disk_bytes:
        prune_runs(root, settings.max_runs_disk_bytes)
        used = runs_disk_bytes(root)
        if used >= settings.max_runs_disk_bytes:
            raise ConfigError(t("limit.disk", used=_megabytes(used), limit=_megabytes(settings.max_runs_disk_bytes)))


def check_resume_limits(config, status: Status) -> None:
    """A resumed run keeps the config limits, and in a demo has training time left."""
    check_config_limits(config)
    settings = get_settings()
    if settings.demo and settings.max_run_seconds and status.train_s >= settings.max_run_seconds:
        raise RunError(t("limit.time_used", limit=settings.max_run_seconds))


def time_budget_s() -> float | None:
    """Training seconds one run may use over all its sessions, or None for no cap."""
    settings = get_settings()
    return float(settings.max_run_seconds) if settings.demo and settings.max_run_seconds else None


# ---------------------------------------------------------------- disk


def folder_bytes(path: Path) -> int:
    """Bytes of the regular files under path, links not followed (a link's target is not ours)."""
    total = 0
    for folder, _, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue  # removed while we walked
            if not os.path.islink(os.path.join(folder, name)):
                total += info.st_size
    return total


def runs_disk_bytes(root: Path) -> int:
    return folder_bytes(root) if root.is_dir() else 0


def prune_runs(root: Path, cap_bytes: int) -> list[str]:
    """Delete the oldest finished visitor runs until the runs folder is under cap_bytes; never an
    example run, an operator's run (no owner) or an active one. Returns the ids deleted."""
    used = runs_disk_bytes(root)
    deleted: list[str] = []
    if used < cap_bytes:
        return deleted
    candidates = [
        run
        for run in sorted(list_runs(root), key=lambda r: r.status.created)
        if run.status.state not in ACTIVE_STATES and run.owner not in (None, EXAMPLES_OWNER)
    ]
    for run in candidates:
        if used < cap_bytes:
            break
        size = folder_bytes(run.path)
        shutil.rmtree(run.path, ignore_errors=True)
        used -= size
        deleted.append(run.run_id)
    return deleted
