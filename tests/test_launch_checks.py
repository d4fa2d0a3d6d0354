"""A launch checks everything before a run directory exists (issue 12, item 6): a network that does not
fit the dataset as written, a missing folder, an unavailable device, an offline dataset and unavailable
pretrained weights are refused with the project's own error, and nothing is created under the runs root."""

from __future__ import annotations

import copy
import urllib.error
from pathlib import Path

import pytest

from cnn_core.errors import CnnLabError
from cnn_core.runs.launcher import check_launch, launch_run
from cnn_core.train.config import ConfigError
from tests.conftest import TINY_SPEC, tiny_config
from tests.test_cli import cli


def unchecked(**fields):
    """A tiny config with fields set after its own validation, as a hand-written config.json could hold."""
    config = tiny_config()
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def refused(config, runs_root: Path, *words: str) -> str:
    with pytest.raises(ConfigError) as info:
        launch_run(config, runs_root)
    message = str(info.value)
    for word in words:
        assert word in message
    assert list(runs_root.iterdir()) == []  # no run directory
    return message


def test_spec_of_another_input_shape_is_refused_not_refitted(runs_root):
    spec = copy.deepcopy(TINY_SPEC)
    spec["input_shape"] = [3, 32, 32]
    refused(unchecked(spec=spec), runs_root, "3×32×32", "1×28×28")


def test_head_of_another_class_count_is_refused_not_widened(runs_root):
    spec = copy.deepcopy(TINY_SPEC)
    spec["num_classes"] = 5
    spec["layers"][-1]["out_features"] = 5
    refused(unchecked(spec=spec), runs_root, "5", "10")


def test_presets_are_still_fitted_to_the_dataset(runs_root):
    config = tiny_config(spec=None, preset="seed002_mnist_cnn", dataset="shapes")
    check_launch(config)  # a preset follows the dataset it is trained on
    assert Path(config.data_dir).is_absolute()


def test_missing_folder_is_refused(runs_root, tmp_path):
    refused(unchecked(dataset="folder", folder_path=str(tmp_path / "nowhere")), runs_root, "nowhere")


def test_folder_without_class_folders_is_refused(runs_root, tmp_path):
    (tmp_path / "flat").mkdir()
    refused(unchecked(dataset="folder", folder_path=str(tmp_path / "flat")), runs_root, "flat")


def test_unavailable_device_is_refused(runs_root, monkeypatch):
    import cnn_core.train.devices as devices

    monkeypatch.setattr(devices, "available_devices", lambda: ["auto", "cpu"])
    refused(unchecked(device="cuda"), runs_root, "cuda", "cpu")


def test_offline_dataset_is_refused_and_leaves_no_data_folder(runs_root, tmp_path, monkeypatch):
    import cnn_core.data.loaders as loaders

    def offline(name, root, download):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(loaders, "_torchvision_pair", offline)
    monkeypatch.chdir(tmp_path)
    config = tiny_config(dataset="mnist", data_dir="data")
    message = refused(config, runs_root, "mnist", "t10k-images-idx3-ubyte")
    assert str(tmp_path / "data") in message  # the data dir, resolved before the worker's cwd changes
    assert not list(runs_root.rglob("data"))


def test_present_dataset_files_are_checked_without_loading(runs_root, tmp_path, monkeypatch):
    import cnn_core.data.loaders as loaders

    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in loaders._TORCHVISION["mnist"][1]:
        (raw / name).write_bytes(b"")
    monkeypatch.setattr(loaders, "_torchvision_pair", lambda *a, **k: pytest.fail("loaded or downloaded"))
    config = tiny_config(dataset="mnist", data_dir=str(tmp_path / "data"))
    check_launch(config)


def test_unavailable_pretrained_weights_are_refused(runs_root, monkeypatch):
    from cnn_core.arch import backbones

    def offline(name, *a, **k):
        raise backbones.PretrainedWeightsUnavailable(f"the {name} weights cannot be downloaded here")

    monkeypatch.setattr(backbones, "weights_cached", lambda name: False)
    monkeypatch.setattr(backbones, "fetch_weights", offline)
    spec = {
        "input_shape": [3, 32, 32],
        "num_classes": 10,
        "backbone": {"name": "resnet18", "pretrained": True},
    }
    message = refused(unchecked(dataset="shapes", spec=spec), runs_root, "resnet18")
    assert isinstance(ConfigError(message), CnnLabError)


def test_cli_refuses_a_bad_launch_with_a_non_zero_exit(runs_root, tmp_path):
    result = cli("train", "--dataset", "folder", "--folder", str(tmp_path / "nowhere"))
    assert result.returncode != 0
    assert "nowhere" in result.stderr and "Traceback" not in result.stderr
    assert list(runs_root.iterdir()) == []


def test_worker_gets_an_absolute_data_dir(runs_root, tmp_path, monkeypatch):
    import cnn_core.runs.launcher as launcher
    from cnn_core.settings import reset_settings

    started = []

    class FakePopen:
        def __init__(self, args, **kwargs):
            started.append(kwargs["env"])

        def wait(self):
            return 0

    monkeypatch.setenv("CNN_LAB_DATA_DIR", "data")
    monkeypatch.chdir(tmp_path)
    reset_settings()
    monkeypatch.setattr(launcher.subprocess, "Popen", FakePopen)
    run_dir = runs_root / "20260101-000000-digits-abs"
    run_dir.mkdir()
    launcher.spawn_worker(run_dir)
    assert started[0]["CNN_LAB_DATA_DIR"] == str(tmp_path / "data")  # not data/ inside the run's cwd
