"""What a run was trained with, for reproducing it: the versions of torch, torchvision, CNN Lab and
Python, the git commit of CNN Lab's source when it is a git checkout, and the device. Recorded in
the run directory's environment.json, one entry per training session (a resume may run on other
versions than the start did).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

import cnn_core
from cnn_core.files import read_json, write_json_atomic

ENVIRONMENT_FILE = "environment.json"
SOURCE_ROOT = Path(cnn_core.__file__).resolve().parents[1]
GIT_TIMEOUT_S = 5.0
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # SHA-1, or SHA-256 repositories


def git_commit(root: Path = SOURCE_ROOT, timeout_s: float = GIT_TIMEOUT_S) -> str | None:
    """The commit checked out at root, or None: no git, not a repository, or git too slow."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _COMMIT.fullmatch(commit) else None


def torchvision_version() -> str | None:
    """torchvision's full version (with its build tag, e.g. +cu130) without importing it: importing
    torchvision pulls in torch._dynamo, over a second of a worker's start for a run that never uses it."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"].__version__
    spec = importlib.util.find_spec("torchvision")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        source = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text()
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
                return ast.literal_eval(node.value)
    except (OSError, SyntaxError, ValueError):
        pass
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(device: torch.device | str) -> dict:
    """This process's versions, commit and device."""
    return {
        "cnn_lab": cnn_core.__version__,
        "torch": torch.__version__,
        "torchvision": torchvision_version(),
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "device": str(device),
    }


def record_environment(
    run_dir: Path, device: torch.device | str, global_step: int, channels_last: bool | None = None
) -> dict:
    """Append this session's environment (the step it starts from, and the memory format chosen
    for it when given) to environment.json."""
    path = run_dir / ENVIRONMENT_FILE
    previous = read_json(path)
    sessions = previous.get("sessions") if isinstance(previous, dict) else None
    entry = {"started": time.time(), "from_step": global_step, **environment(device)}
    if channels_last is not None:
        entry["memory_format"] = "channels_last" if channels_last else "contiguous"
    record = {"sessions": [*(sessions if isinstance(sessions, list) else []), entry]}
    write_json_atomic(path, record)
    return entry
