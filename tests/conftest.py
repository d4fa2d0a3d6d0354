"""Shared fixtures and helpers for every test module: take them from here rather than redefining them.

Settings: `fresh_settings` (autouse) and the `monkeypatch` override re-read the environment, since
cnn_core.settings reads it once per process.

Hypothesis: a "ci" profile (the full example counts; loaded when CI is set, as CI runs with CI=true)
and a "dev" profile with a tenth of them for a quick local run; HYPOTHESIS_PROFILE (or pytest's
--hypothesis-profile) picks one explicitly. A test asking for more than the default count writes
`@settings(max_examples=examples(800))`: 800 in CI, scaled down with the profile elsewhere.

Runs: `runs_root` points CNN_LAB_RUNS_DIR (and CNN_LAB_DATA_DIR) at a temporary folder and, at
teardown, SIGKILLs every worker that a test left behind: the pid in each run's status.json
(when it is alive and really a cnn_core.runs.worker) and any process whose command line mentions
the temporary runs folder. A leftover detached worker would otherwise block CI. Every test that
sets CNN_LAB_RUNS_DIR or can start a worker takes `runs_root`, never a copy of its own.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings

from cnn_core.runs.directory import pid_alive

REPO_ROOT = Path(__file__).resolve().parents[1]
# The thread settings runs_root pins to one thread for every worker.
THREAD_ENV = ("OMP_NUM_THREADS", "CNN_LAB_WORKER_THREADS")

# ---------------------------------------------------------------- Hypothesis profiles

CI_EXAMPLES = 100  # the "ci" profile's default count (Hypothesis's own default)
DEV_EXAMPLES = 10  # a tenth, for a quick local run
hypothesis_settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", max_examples=DEV_EXAMPLES, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def pytest_configure(config):
    """No spare workers (cnn_core.runs.spare) unless a test asks for one: every app a test starts
    would otherwise keep a torch-importing process per runs folder. Set before any app or worker
    starts; in pytest only (the benchmarks import these helpers too, and measure the app as it is)."""
    os.environ.setdefault("CNN_LAB_SPARE_IDLE_S", "0")


def examples(ci_count: int) -> int:
    """max_examples for a test that runs ci_count examples under the "ci" profile: the count scaled
    by the loaded profile's default (ci_count in CI, a tenth of it under "dev"). Call it at
    decoration time, after the profile is loaded (conftest is imported before any test module)."""
    return max(1, ci_count * hypothesis_settings.default.max_examples // CI_EXAMPLES)


# ---------------------------------------------------------------- small shared helpers


def standard_normal(rng: np.random.Generator):
    """rand(*shape): float32 standard-normal arrays drawn from rng (each module keeps its own seed)."""
    return lambda *shape: rng.standard_normal(shape).astype(np.float32)


def png_bytes(array, mode: str | None = None) -> bytes:
    """A uint8 array encoded as a PNG file's bytes (mode as for PIL's Image.fromarray)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array), mode).save(buffer, format="PNG")
    return buffer.getvalue()


def conv(out: int = 4, k=3, **kw) -> dict:
    """A conv2d layer of a spec: out channels, kernel k, any other keywords as given."""
    return {"type": "conv2d", "out_channels": out, "kernel_size": k, **kw}


# A small CNN for the look-inside tests: two convs (stride 1) and a pooling layer. Seconds to train.
SMALL_CNN_SPEC = {
    "name": "small",
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "out_channels": 6, "kernel_size": 3},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}

# The tiny network every engine test trains: one strided conv, a linear head. Milliseconds a step.
TINY_SPEC = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


@pytest.fixture(autouse=True)
def fresh_settings():
    """Settings are read once per process (cnn_core.settings); each test starts by reading the
    environment afresh, and ends so, whatever it changed."""
    from cnn_core.settings import reset_settings

    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def monkeypatch(monkeypatch):
    """pytest's monkeypatch, re-reading the settings whenever a test changes the environment."""
    from cnn_core.settings import reset_settings

    for name in ("setenv", "delenv"):
        original = getattr(monkeypatch, name)

        def changed(*args, _original=original, **kwargs):
            _original(*args, **kwargs)
            reset_settings()

        setattr(monkeypatch, name, changed)
    return monkeypatch


def tiny_config(**overrides):
    from cnn_core.train.config import TrainConfig

    fields = dict(
        dataset="digits",
        spec=TINY_SPEC,
        preset=None,
        batch_size=64,
        epochs=2,
        log_interval_s=0.05,
        device="cpu",
        seed=7,
    )
    fields.update(overrides)
    config = TrainConfig(**fields)
    config.validate()
    return config


@contextmanager
def one_torch_thread():
    """In-process training on one thread, as the workers train (see runs_root)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def leftover_pids(root: Path) -> set[int]:
    """Workers of runs under root that are still alive, plus any process naming root."""
    pids: set[int] = set()
    if root.is_dir():
        for run_dir in root.iterdir():
            try:
                pid = json.loads((run_dir / "status.json").read_text()).get("pid")
            except (OSError, ValueError, AttributeError):
                continue
            if (
                isinstance(pid, int)
                and pid > 0
                and pid != os.getpid()
                and pid_alive(pid)
                and b"cnn_core.runs.worker" in _cmdline(pid)
            ):
                pids.add(pid)
    needle = str(root).encode()
    for entry in Path("/proc").iterdir():
        pid = int(entry.name) if entry.name.isdigit() else None
        if pid and pid != os.getpid() and needle in _cmdline(pid) and pid_alive(pid):
            pids.add(pid)
    return pids


def kill_leftovers(root: Path) -> set[int]:
    killed = set()
    for pid in leftover_pids(root):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while killed and any(pid_alive(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.02)
    return killed


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    """A fresh runs root for this test (via the environment), with every worker killed at the end."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("CNN_LAB_RUNS_DIR", str(root))
    monkeypatch.setenv("CNN_LAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNN_LAB_MAX_CONCURRENT_RUNS", raising=False)
    # One thread per worker: the tiny test networks gain nothing from more, two OpenMP threads
    # on a busy two-core CI machine slow every step down many times over, and the bitwise
    # resume tests compare against an in-process run on one thread.
    for name in THREAD_ENV:
        monkeypatch.setenv(name, "1")
    try:
        yield root
    finally:
        kill_leftovers(root)


@pytest.fixture
def fake_worker():
    """A live process whose command line names cnn_core.runs.worker (as pid_is_worker checks),
    standing in for a busy worker: yields its Popen once pid_is_worker sees it; killed at the end."""
    from cnn_core.runs.directory import pid_is_worker

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "cnn_core.runs.worker"])
    try:
        # until exec has happened, /proc shows our own command line
        wait_for(lambda: pid_is_worker(proc.pid), 10, interval=0.01, message="the fake worker to start")
        yield proc
    finally:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout: float, interval: float = 0.02, message: str = "condition"):
    """Poll predicate until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_state(run_dir: Path, states, timeout: float = 60.0, min_step: int = 0):
    """Poll read_status until the run is in one of states (and past min_step); return the status."""
    from cnn_core.runs.directory import read_status

    states = (states,) if isinstance(states, str) else tuple(states)
    last = {}

    def check():
        status = read_status(run_dir)
        last["status"] = status
        if status.state == "failed" and "failed" not in states:
            log = (
                (run_dir / "worker.log").read_text(errors="replace")[-3000:]
                if (run_dir / "worker.log").exists()
                else ""
            )
            raise AssertionError(f"run {run_dir.name} failed: {status.error}\n{log}")
        return status if status.state in states and status.step >= min_step else None

    try:
        return wait_for(check, timeout, message=f"{run_dir.name} to reach {states} (step ≥ {min_step})")
    except AssertionError as exc:
        status = last.get("status")
        raise AssertionError(
            f"{exc}; last state {status.state if status else None}, step {status.step if status else None}"
        ) from None


def train_completed_run(run_dir: Path, config) -> Path:
    """Train config in-process into run_dir (created here) and mark it completed, as a worker would."""
    from cnn_core.files import write_json_atomic
    from cnn_core.runs.directory import Status, write_status
    from cnn_core.train.loop import run_training

    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / "config.json", config.to_dict())
    status = Status(state="running")
    result = run_training(run_dir, config, lambda: False, status)
    status.state, status.test_acc, status.best_val_acc = "completed", result["test_acc"], result["best_val_acc"]
    status.step, status.finished = status.total_steps, time.time()
    write_status(run_dir, status)
    return run_dir
