"""Stop / resume and kill -9 / resume through the real detached worker: the run completes,
a checkpoint always loads after a kill, the metrics stay consistent, and the final weights are
bitwise equal to those of an uninterrupted run (every random draw is a function of seed,
epoch and step)."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cnn_core.files import read_json
from cnn_core.runs.directory import STOP_FILE, Status, pid_is_worker, read_status, request_stop
from cnn_core.runs.launcher import launch_run, resume_run
from cnn_core.runs.metrics import read_metrics
from cnn_core.train.checkpoints import checkpoint_dir, load_latest_checkpoint
from cnn_core.train.loop import run_training
from tests.conftest import one_torch_thread, tiny_config, wait_for, wait_state

# 16 epochs of 21 steps: a few seconds of training, long enough to interrupt four times.
# checkpoint_interval_s is at its allowed minimum (1 s); checkpoints also come at every epoch end.
CONFIG = dict(epochs=16, batch_size=64, checkpoint_interval_s=1.0, seed=11)

# Imported by every Python started with this folder on PYTHONPATH (the workers of the kill test):
# it makes the fsync of a checkpoint's temporary file take a while, so that a kill can be aimed
# at the middle of a checkpoint write. It changes no computation.
SLOW_CHECKPOINT_HOOK = """
import os, time
_delay = float(os.environ.get("CNN_LAB_TEST_SLOW_CKPT_S") or 0)
if _delay > 0:
    _real_fsync = os.fsync
    def _fsync(fd):
        try:
            name = os.path.basename(os.readlink("/proc/self/fd/%d" % fd))
        except OSError:
            name = ""
        if name.startswith(".ckpt-") and name.endswith(".tmp"):
            time.sleep(_delay)
        return _real_fsync(fd)
    os.fsync = _fsync
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, in-process: its final weights and metrics."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_dir.mkdir()
    with one_torch_thread():  # as the workers run (runs_root sets CNN_LAB_WORKER_THREADS=1)
        result = run_training(run_dir, tiny_config(**CONFIG), lambda: False, Status())
    return {
        "weights": load_file(str(run_dir / "model.safetensors")),
        "result": result,
        "metrics": read_metrics(run_dir),
    }


def assert_same_weights(run_dir: Path, reference):
    weights = load_file(str(run_dir / "model.safetensors"))
    assert weights.keys() == reference["weights"].keys()
    for name, tensor in reference["weights"].items():
        assert torch.equal(weights[name], tensor), f"{name} differs from the uninterrupted run"


def assert_consistent_metrics(run_dir: Path, epochs: int):
    records = read_metrics(run_dir)
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps and all(a < b for a, b in zip(steps, steps[1:])), f"step records not increasing: {steps}"
    epoch_numbers = [r["epoch"] for r in records if r["kind"] == "epoch"]
    assert epoch_numbers == list(range(1, epochs + 1)), f"epoch records: {epoch_numbers}"
    assert [r["kind"] for r in records].count("test") == 1
    epoch_steps = [r["step"] for r in records if r["kind"] == "epoch"]
    assert all(a < b for a, b in zip(epoch_steps, epoch_steps[1:]))


def wait_until_dead(pid: int, timeout: float = 15.0):
    wait_for(lambda: not pid_is_worker(pid), timeout, message=f"worker {pid} to exit")


def test_stop_then_resume_equals_uninterrupted(runs_root, reference):
    config = tiny_config(**CONFIG)
    run_dir = launch_run(config)
    status = wait_state(run_dir, "running", timeout=90, min_step=3)
    pid = status.pid
    request_stop(run_dir)
    status = wait_state(run_dir, "stopped", timeout=30)
    wait_until_dead(pid)
    state, _ = load_latest_checkpoint(run_dir)
    total = status.total_steps
    assert state is not None and 0 < state["global_step"] < total, "the stop should land mid-run"
    assert not (run_dir / STOP_FILE).exists()
    resume_run(run_dir)
    status = wait_state(run_dir, "completed", timeout=90)
    assert status.step == total and status.test_acc == pytest.approx(reference["result"]["test_acc"])
    assert_same_weights(run_dir, reference)
    assert_consistent_metrics(run_dir, config.epochs)


def _is_temporary_checkpoint(name: str, pid: int) -> bool:
    """A checkpoint that worker `pid` is still writing (cnn_core.files.atomic_path's naming)."""
    return name.startswith(".ckpt-") and f".{pid}." in name and name.endswith(".tmp")


def test_kill_9_at_random_moments_then_resume(runs_root, reference, tmp_path, monkeypatch):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_CHECKPOINT_HOOK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("CNN_LAB_TEST_SLOW_CKPT_S", "0.1")
    seed = int(os.environ.get("CNN_LAB_TEST_KILL_SEED") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    config = tiny_config(**CONFIG)
    run_dir = launch_run(config)
    folder = checkpoint_dir(run_dir)
    log = []  # what each trial did, for the failure message

    def new_worker_pid(old_pid):
        raw = read_json(run_dir / "status.json") or {}
        pid = raw.get("pid")
        return pid if pid and pid != old_pid and raw.get("state") == "running" and pid_is_worker(pid) else None

    def trained_since(t0):  # a step record written by this session: it is past startup, training
        try:
            return any(r["kind"] == "step" and r["time"] > t0 for r in read_metrics(run_dir))
        except Exception:  # noqa: BLE001 - a concurrent rewrite; try again
            return False

    old_pid, resumed_at, mid_write_kills = None, 0.0, 0
    for trial in range(4):
        pid = wait_for(lambda: new_worker_pid(old_pid), 90, message=f"trial {trial}: a running worker")
        if trial == 1:
            # aim at a checkpoint write: kill as soon as this worker's temporary checkpoint appears
            wait_for(
                lambda: any(_is_temporary_checkpoint(n, pid) for n in os.listdir(folder)) if folder.is_dir() else False,
                60,
                interval=0.001,
                message="a checkpoint write",
            )
            delay = 0.0
        else:
            wait_for(
                lambda: (folder / "latest.json").exists() and trained_since(resumed_at),
                60,
                message=f"trial {trial}: training after a checkpoint",
            )
            delay = rng.uniform(0.0, 0.5)
            time.sleep(delay)
        assert pid_is_worker(pid) and read_status(run_dir).state == "running", (
            f"the run ended before kill {trial} (seed {seed}, {log}); make it longer"
        )
        os.kill(pid, signal.SIGKILL)
        wait_until_dead(pid)
        mid_write = any(_is_temporary_checkpoint(n, pid) for n in os.listdir(folder))
        mid_write_kills += mid_write
        state, path = load_latest_checkpoint(run_dir)
        log.append((trial, round(delay, 3), mid_write, path.name if path else None))
        assert state is not None, f"no loadable checkpoint after kill {trial} (seed {seed}, {log})"
        assert read_status(run_dir).state == "interrupted"
        read_metrics(run_dir)  # a torn tail is fine, corruption is not
        old_pid, resumed_at = pid, time.time()
        resume_run(run_dir)
    print(f"kill trials (seed {seed}; trial, delay s, mid-write, checkpoint loaded): {log}")
    assert mid_write_kills >= 1, f"no kill landed during a checkpoint write (seed {seed}, {log})"
    status = wait_state(run_dir, "completed", timeout=120)
    assert status.step == status.total_steps
    assert_consistent_metrics(run_dir, config.epochs)
    assert_same_weights(run_dir, reference)
    assert not list(folder.glob(".ckpt-*.tmp")), "stray temporary checkpoints were not cleaned up"
    assert len(list(folder.glob("ckpt-*.pt"))) == 2
