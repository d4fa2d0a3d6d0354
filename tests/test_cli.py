"""The command line, run as users run it: `python -m cnn_core …` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_core.runs.cli import _config_from_args, build_parser
from cnn_core.runs.directory import pid_is_worker, read_status
from cnn_core.train.config import ConfigError
from tests.conftest import REPO_ROOT, TINY_SPEC, wait_state


def cli(*args, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    """`python -m cnn_core *args`; timeout only guards against a hang (a failure, not a measurement)."""
    env = dict(os.environ)  # carries CNN_LAB_RUNS_DIR (and one worker thread) from the runs_root fixture
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "cnn_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(REPO_ROOT),
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def test_help(runs_root):
    top = cli("--help")
    assert top.returncode == 0
    for command in ("train", "resume", "stop", "status", "list"):
        assert command in top.stdout
    train = cli("train", "--help")
    assert train.returncode == 0 and "--epochs" in train.stdout and "--wait" in train.stdout
    assert list(runs_root.iterdir()) == []


def test_default_digits_run_is_accurate(runs_root):
    """The default run's accuracy; its speed is measured in benchmarks/, not asserted here."""
    done = cli("train", "--wait", timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = runs_root / Path(done.stdout.splitlines()[0].strip()).name
    assert run_dir.is_dir() and "completed: test accuracy" in done.stdout
    status = read_status(run_dir)
    assert status.state == "completed" and status.epochs == 3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preset"] == "seed002_mnist_cnn" and config["dataset"] == "digits" and config["epochs"] == 3
    assert status.test_acc >= 0.95, f"test accuracy {status.test_acc:.4f}"

    shown = cli("status", run_dir.name, "--json")
    assert shown.returncode == 0
    data = json.loads(shown.stdout)
    assert data["state"] == "completed" and data["test_acc"] == pytest.approx(status.test_acc)
    listing = cli("list")
    assert listing.returncode == 0 and run_dir.name in listing.stdout and "completed" in listing.stdout


def test_train_returns_at_once_and_stop(runs_root, tmp_path):
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY_SPEC))
    # capture_output: if the detached worker inherited our pipes, this would hang until it ended
    launched = cli("train", "--spec", str(spec), "--epochs", "500", "--batch-size", "64", timeout=60)
    assert launched.returncode == 0, launched.stderr
    run_dir = runs_root / Path(launched.stdout.strip().splitlines()[-1]).name
    assert run_dir.is_dir()
    # returned at once: the 500-epoch run is still waiting or training, not finished
    state = read_status(run_dir).state
    assert state in ("queued", "running"), f"`train` without --wait returned with the run {state}"
    status = wait_state(run_dir, "running", timeout=60, min_step=1)
    assert pid_is_worker(status.pid)
    stopped = cli("stop", run_dir.name)
    assert stopped.returncode == 0 and "stop requested" in stopped.stdout
    status = wait_state(run_dir, "stopped", timeout=30)
    assert 0 < status.step < status.total_steps
    shown = cli("status", str(run_dir))  # a run directory path works as well as an id
    assert shown.returncode == 0 and f"{run_dir.name}: stopped" in shown.stdout


def test_errors_exit_non_zero(runs_root):
    bad = cli("status", "../../etc")
    assert bad.returncode != 0 and "error" in bad.stderr.lower() and not bad.stdout
    bad = cli("train", "--epochs", "-1")
    assert bad.returncode != 0 and "epochs" in bad.stderr
    assert list(runs_root.iterdir()) == []  # no run directory for a bad configuration


def test_train_passes_the_clip_norm_into_the_config(runs_root):
    parse = build_parser().parse_args
    assert _config_from_args(parse(["train", "--clip-grad-norm", "1.5"])).clip_grad_norm == 1.5
    assert _config_from_args(parse(["train"])).clip_grad_norm is None  # off unless asked
    with pytest.raises(ConfigError, match="clip_grad_norm"):
        _config_from_args(parse(["train", "--clip-grad-norm", "0"]))
    assert list(runs_root.iterdir()) == []


def test_train_passes_the_normalisation_into_the_config(runs_root):
    parse = build_parser().parse_args
    assert _config_from_args(parse(["train", "--normalization", "half"])).normalization == "half"
    assert _config_from_args(parse(["train"])).normalization == "dataset"
    with pytest.raises(SystemExit):  # argparse refuses a value it does not offer
        parse(["train", "--normalization", "imagenet"])
