"""Checkpoints: written atomically, verified on load, the last two kept.

A checkpoint is a torch.save'd dict of tensors and plain values only, so it loads with
torch.load(weights_only=True): nothing is ever unpickled. Writing goes to a temporary file
in the same directory, is fsynced and renamed into place, and only then is the pointer file
latest.json (with the file's SHA-256) replaced. A checkpoint whose hash or load fails is
skipped for the previous one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import torch

from cnn_core.files import fsync_dir, read_json, refuse_link, write_atomic, write_json_atomic

KEEP = 2
_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(run_dir: Path, state: dict, global_step: int) -> Path:
    folder = checkpoint_dir(run_dir)
    refuse_link(folder)  # a checkpoints/ link would make the worker write outside the run
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"ckpt-{global_step:08d}.pt"
    write_atomic(final, lambda f: torch.save(state, f))
    fsync_dir(folder)
    write_json_atomic(folder / "latest.json", {"file": final.name, "step": global_step, "sha256": _sha256(final)})
    fsync_dir(folder)
    for old in sorted(_checkpoint_files(folder))[:-KEEP]:
        old.unlink(missing_ok=True)
    for stray in folder.glob(".ckpt-*.tmp"):  # left by a crash during an earlier write
        stray.unlink(missing_ok=True)
    return final


def _checkpoint_files(folder: Path) -> list[Path]:
    if folder.is_symlink() or not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if _NAME.match(p.name) and not p.is_symlink()]


def _try_load(path: Path, expected_sha: str | None) -> dict | None:
    try:
        if expected_sha is not None and _sha256(path) != expected_sha:
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # truncated, corrupted, or not a checkpoint at all: use an older one
        return None
    return state if isinstance(state, dict) and "model" in state else None


def load_latest_checkpoint(
    run_dir: Path, fits: Callable[[dict, Path], bool] | None = None
) -> tuple[dict | None, Path | None]:
    """The newest checkpoint that verifies, loads and (when fits is given) fits(state, path) the
    model it is for, or (None, None); one that does not fit falls back to the previous one."""
    folder = checkpoint_dir(run_dir)
    if folder.is_symlink():  # never read from outside the run
        return None, None
    pointer = read_json(folder / "latest.json") or {}
    candidates = sorted(_checkpoint_files(folder), reverse=True)
    pointed = folder / str(pointer.get("file", ""))
    if pointed in candidates:
        candidates.remove(pointed)
        candidates.insert(0, pointed)
    for path in candidates:
        state = _try_load(path, pointer.get("sha256") if path == pointed else None)
        if state is not None and (fits is None or fits(state, path)):
            return state, path
    return None, None
