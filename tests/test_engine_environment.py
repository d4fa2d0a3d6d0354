"""A deterministic run trains with torch's deterministic algorithms (and leaves the process as it
found it), and every run records the versions it was trained with: torch, torchvision, CNN Lab
(the same as pyproject.toml's) and the git commit when there is one."""

from __future__ import annotations

import os
import subprocess
import tomllib
import warnings

import pytest
import torch

import cnn_core
from cnn_core.files import read_json
from cnn_core.runs.directory import Status
from cnn_core.train import environment as environment_module
from cnn_core.train.environment import git_commit
from cnn_core.train.loop import StopRequested, run_training
from tests.conftest import REPO_ROOT, one_torch_thread, tiny_config


@pytest.fixture(autouse=True)
def single_thread():
    with one_torch_thread():
        yield


def settings_now() -> tuple:
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )


@pytest.mark.parametrize("deterministic", [True, False])
def test_deterministic_runs_use_deterministic_algorithms(runs_root, tmp_path, deterministic):
    before = settings_now()
    seen = []
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = tiny_config(deterministic=deterministic, epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_training(run_dir, config, lambda: False, Status(), on_log=lambda _: seen.append(settings_now()))
    assert seen and all(s[0] is deterministic for s in seen)
    assert all(s[1] is (not deterministic) for s in seen)  # cuDNN's autotuner off when deterministic
    if deterministic:
        assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") in (":4096:8", ":16:8")
    # every op of a CPU run has a deterministic kernel: no warning about one that has not
    assert not [w for w in caught if "deterministic" in str(w.message)]
    assert settings_now() == before  # process-wide settings are put back


def test_each_session_records_its_versions(runs_root, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = tiny_config(epochs=2)
    with pytest.raises(StopRequested):
        calls = iter(range(10**6))
        run_training(run_dir, config, lambda: next(calls) >= 5, Status())
    run_training(run_dir, config, lambda: False, Status())
    sessions = read_json(run_dir / "environment.json")["sessions"]
    assert [s["from_step"] for s in sessions] == [0, 5]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    for session in sessions:
        assert session["torch"] == torch.__version__
        assert session["torchvision"] == __import__("torchvision").__version__
        assert session["cnn_lab"] == cnn_core.__version__
        assert session["device"] == "cpu"
        assert session["git_commit"] == (commit.stdout.strip() if commit.returncode == 0 else None)


def test_the_version_is_pyprojects():
    with open(REPO_ROOT / "pyproject.toml", "rb") as file:
        assert cnn_core.__version__ == tomllib.load(file)["project"]["version"]


def test_no_commit_without_git_or_a_repository(tmp_path, monkeypatch):
    assert git_commit(tmp_path) is None  # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))  # no git program at all
    assert git_commit(REPO_ROOT) is None

    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs.get("timeout"))

    monkeypatch.setattr(environment_module.subprocess, "run", slow)
    assert git_commit(REPO_ROOT) is None
