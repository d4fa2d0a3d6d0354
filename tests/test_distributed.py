"""Training in several processes under torchrun, on the CPU with gloo (issue #17): a 2-process run
from the CLI with one metrics stream and rank 0's checkpoints, its weights against a 1-process
run of the same global batch; a stop and a resume on another number of processes (2 → 1 and
1 → 2); a kill -9 of
one process, shown as interrupted, then resumed; and a run on two "machines" (two torchrun
invocations meeting at a rendezvous on 127.0.0.1).

Oracle: the same config trained in this process on one process (tests.conftest.train_completed_run).
DistributedDataParallel sums the two processes' gradients in another order than one process sums
its batch, so the weights agree to float rounding: within WEIGHT_TOLERANCE (measured: 9e-8).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from cnn_core.files import read_json
from cnn_core.runs.directory import read_status, request_stop
from cnn_core.runs.launcher import launch_run, resume_run
from cnn_core.runs.metrics import read_metrics
from cnn_core.train.config import TrainConfig
from tests.conftest import REPO_ROOT, one_torch_thread, train_completed_run, wait_for, wait_state
from tests.test_cli import cli

pytestmark = pytest.mark.timeout(300)

WEIGHT_TOLERANCE = 1e-5  # absolute, on weights of magnitude up to ~0.4
# the CLI's defaults (batch 32, Adam 1e-3): measured within 2.3e-7 of one process. Not every config
# stays that close: with batch 16 (seed 3) float rounding flips the sign of a few near-zero gradients,
# and Adam turns each flip into a 2e-3 step (lr), 9e-3 after two epochs (benchmarks/README.md).
SMALL = dict(dataset="digits", preset="seed002_mnist_cnn", epochs=2, device="cpu", seed=3)


def reference_weights(tmp_path: Path, config: TrainConfig) -> dict:
    """The oracle: the same config (one process) trained in this process."""
    one = TrainConfig.from_dict(config.to_dict() | {"nproc_per_node": 1, "nnodes": 1})
    with one_torch_thread():
        run_dir = train_completed_run(tmp_path / "reference" / "20260101-000000-digits-ref", one)
    return load_file(str(run_dir / "model.safetensors"))


def assert_close_weights(run_dir: Path, reference: dict) -> float:
    got = load_file(str(run_dir / "model.safetensors"))
    assert got.keys() == reference.keys()  # the plain model's names: no DDP "module." prefix
    worst = max(float((got[k] - reference[k]).abs().max()) for k in got)
    assert worst <= WEIGHT_TOLERANCE, worst
    return worst


def assert_one_metrics_stream(run_dir: Path, epochs: int) -> None:
    records = read_metrics(run_dir)
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == sorted(set(steps)), "one writer: no step logged twice or out of order"
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == list(range(1, epochs + 1))
    assert sum(r["kind"] == "test" for r in records) == 1


def rank_pid(run_dir: Path, rank: int) -> int | None:
    """The pid of the torchrun process of run_dir that has RANK=rank."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--rank" in cmdline and str(run_dir).encode() in cmdline and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def test_a_two_process_run_from_the_cli_matches_one_process(runs_root, tmp_path):
    command = ["train", "--dataset", "digits", "--preset", "seed002_mnist_cnn", "--epochs", "2", "--device", "cpu"]
    done = cli(*command, "--nproc-per-node", "2", "--wait", timeout=240)
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.split()[0])
    status = json.loads(cli("status", run_dir.name, "--json").stdout)
    assert status["state"] == "completed" and status["world_size"] == 2
    assert "(2 processes)" in cli("status", run_dir.name).stdout
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    assert (config.nproc_per_node, config.world_size, config.batch_size, config.per_process_batch) == (2, 2, 32, 16)
    assert_one_metrics_stream(run_dir, 2)
    # rank 0's checkpoints only, one per epoch: no second writer, no leftover temporary file
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "ckpt-00000041.pt",
        "ckpt-00000082.pt",
        "latest.json",
    ]
    assert_close_weights(run_dir, reference_weights(tmp_path, config))


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)], ids=["2-then-1", "1-then-2"])
def test_stopped_then_resumed_on_another_number_of_processes(runs_root, tmp_path, first, then):
    config = TrainConfig(**SMALL, nproc_per_node=first, log_interval_s=0.05)
    run_dir = launch_run(config)
    wait_for(lambda: read_status(run_dir).step >= 10, 120, 0.05, "ten steps")
    request_stop(run_dir)
    status = wait_state(run_dir, "stopped", timeout=120)
    saved = read_json(run_dir / "checkpoints" / "latest.json")["step"]  # where every process stopped
    assert status.step <= saved < status.total_steps and status.world_size == first  # mid-run, after its last log
    resume_run(run_dir, nproc_per_node=then)
    assert wait_state(run_dir, "completed", timeout=180).world_size == then
    assert_one_metrics_stream(run_dir, 2)
    assert_close_weights(run_dir, reference_weights(tmp_path, config))


def test_one_process_killed_the_run_shows_interrupted_and_resumes(runs_root, tmp_path):
    config = TrainConfig(**SMALL, nproc_per_node=2, log_interval_s=0.05)
    run_dir = launch_run(config)
    wait_for(lambda: read_status(run_dir).epoch >= 1 and read_status(run_dir).step > 45, 120, 0.02, "epoch 2")
    pid = rank_pid(run_dir, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_state(run_dir, "interrupted", timeout=120)
    # the dashboard says interrupted at once (rank 0 is gone); the supervisor then says why
    wait_for(lambda: "resume" in (read_status(run_dir).error or ""), 60, 0.1, "the supervisor's note")
    resume_run(run_dir)  # on two processes again, from the end of epoch 1
    wait_state(run_dir, "completed", timeout=180)
    assert_one_metrics_stream(run_dir, 2)
    assert_close_weights(run_dir, reference_weights(tmp_path, config))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_run_on_two_machines_meeting_at_a_rendezvous(runs_root, tmp_path):
    endpoint = f"127.0.0.1:{free_port()}"
    common = ["--nnodes", "2", "--rdzv-endpoint", endpoint, "--run-id", "two-machines"]
    first = subprocess.Popen(
        [sys.executable, "-m", "cnn_core", "train", "--epochs", "2", "--device", "cpu", "--seed", "3"]
        + ["--nproc-per-node", "1", "--node-rank", "0", *common, "--wait"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        second = cli("train", "--node-rank", "1", *common, "--wait", timeout=240)
        assert second.returncode == 0, second.stderr
        out, err = first.communicate(timeout=240)
        assert first.returncode == 0, err
    finally:
        first.kill()
    run_dir = runs_root / "two-machines"
    assert Path(out.split()[0]) == run_dir
    status = read_status(run_dir)
    assert (status.state, status.world_size) == ("completed", 2)
    assert (run_dir / "worker-node1.log").is_file()  # machine 1's processes wrote only their log
    assert_one_metrics_stream(run_dir, 2)
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    assert (config.nnodes, config.nproc_per_node) == (2, 1)
    assert_close_weights(run_dir, reference_weights(tmp_path, config))


@pytest.mark.parametrize(
    "args, words",
    [
        (["--nnodes", "2"], "HOST:PORT"),
        (["--nnodes", "2", "--rdzv-endpoint", "no-port"], "HOST:PORT"),
        (["--node-rank", "1"], "--run-id"),
        (["--nproc-per-node", "0"], "nproc_per_node"),
        (["--nproc-per-node", "65"], "nproc_per_node"),
        (["--nproc-per-node", "4", "--batch-size", "2"], "at least 4"),
    ],
)
def test_bad_process_options_get_a_message(runs_root, args, words):
    done = cli("train", "--epochs", "1", *args, timeout=60)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert not [p for p in runs_root.iterdir() if p.is_dir()]


def test_joining_a_run_that_never_comes_says_so(runs_root):
    from cnn_core.runs.directory import RunError
    from cnn_core.runs.launcher import join_run

    with pytest.raises(RunError, match="no run never-here"):
        join_run("never-here", None, 1, "127.0.0.1:29500", wait_s=0.2)


def test_a_demo_trains_each_run_in_one_process(monkeypatch):
    from cnn_core.runs.demo import check_config_limits
    from cnn_core.train.config import ConfigError

    monkeypatch.setenv("CNN_LAB_DEMO", "1")
    with pytest.raises(ConfigError, match="one process"):
        check_config_limits(TrainConfig(nproc_per_node=2))
