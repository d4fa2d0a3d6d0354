"""Bad training configurations fail with ConfigError naming the field, before any run exists."""

from __future__ import annotations

import copy
import json

import pytest

from cnn_core.i18n import t
from cnn_core.runs.launcher import launch_run
from cnn_core.train.config import ConfigError, TrainConfig
from tests.conftest import TINY_SPEC

# A stack of unpadded 5×5 convs: 28 → 24 → 20 → 16 → 12 → 8 → 4, and the 7th cannot fit.
TOO_DEEP = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 5}] * 7
    + [{"type": "flatten"}, {"type": "linear", "out_features": 10}],
}

BAD = [
    ({"normalization": "imagenet"}, "normalization"),
    ({"normalization": None}, "normalization"),
    ({"epochs": -1}, "epochs"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"lr": 0}, "lr"),
    ({"lr": -0.1}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"augment": ["hflip", "mixup"]}, "augment"),
    ({"augment": "hflip"}, "augment"),
    ({"dataset": "imagenet"}, "dataset"),
    ({"preset": "no_such_preset", "spec": None}, "preset"),
    ({"batch_size": 0}, "batch_size"),
    ({"schedule": "linear"}, "schedule"),
    ({"device": "tpu"}, "device"),
    ({"val_split": 0.95}, "val_split"),
    ({"mixed_precision": "yes"}, "mixed_precision"),
    ({"channels_last": "auto"}, "channels_last"),
    ({"deterministic": None}, "deterministic"),
    ({"log_interval_s": 0}, "log_interval_s"),
    ({"spec": "not a dict", "preset": None}, "spec"),
    ({"clip_grad_norm": 0}, "clip_grad_norm"),
]


def _config(**overrides) -> TrainConfig:
    fields = dict(dataset="digits", spec=copy.deepcopy(TINY_SPEC), preset=None, epochs=2, batch_size=64)
    fields.update(overrides)
    return TrainConfig(**fields)


@pytest.mark.parametrize("overrides,field", BAD, ids=[f for _, f in BAD])
def test_bad_value_names_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        _config(**overrides).validate()
    with pytest.raises(ConfigError, match=field):  # the same through the JSON path
        TrainConfig.from_dict({**_config().to_dict(), **overrides})


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="learning_rate"):
        TrainConfig.from_dict({"dataset": "digits", "learning_rate": 0.1})
    with pytest.raises(ConfigError):
        TrainConfig.from_dict(["not", "an", "object"])


def test_spec_that_does_not_fit_the_dataset():
    with pytest.raises(ConfigError) as info:
        _config(spec=copy.deepcopy(TOO_DEEP)).validate()
    message = str(info.value)
    # the message names the offending layer and why (the network, not one config key, is at fault)
    assert "does not fit" in message and "layer 7" in message and "kernel" in message


def test_folder_dataset_needs_a_path():
    with pytest.raises(ConfigError, match="folder_path"):
        _config(dataset="folder").validate()


def test_good_config_round_trips():
    config = _config()
    config.validate()
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("value", [True, "1", float("nan"), float("inf"), 0, -1, 1e7], ids=repr)
def test_clip_grad_norm_refuses_anything_but_off_or_a_positive_finite_norm(value):
    allowed = t("config.allowed.clip_grad_norm", high=1_000_000)
    for load in (
        lambda: _config(clip_grad_norm=value).validate(),
        lambda: TrainConfig.from_dict({**_config().to_dict(), "clip_grad_norm": value}),
    ):
        with pytest.raises(ConfigError) as info:
            load()
        message = str(info.value)
        assert message.startswith("clip_grad_norm = ") and message.endswith(allowed), message


@pytest.mark.parametrize("value", [None, 1.0, 1_000_000])
def test_clip_grad_norm_accepts_off_or_a_norm_and_round_trips(value):
    config = _config(clip_grad_norm=value)
    config.validate()
    loaded = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert loaded == config and loaded.clip_grad_norm == value


def test_a_config_saved_before_clipping_existed_loads_with_clipping_off():
    assert TrainConfig().clip_grad_norm is None
    saved = _config().to_dict()
    del saved["clip_grad_norm"]
    assert TrainConfig.from_dict(saved).clip_grad_norm is None


@pytest.mark.parametrize(
    "overrides", [o for o, _ in BAD] + [{"spec": TOO_DEEP}], ids=[f for _, f in BAD] + ["spec-fit"]
)
def test_launch_run_creates_nothing_for_a_bad_config(overrides, runs_root):
    with pytest.raises(ConfigError):
        launch_run(_config(**copy.deepcopy(overrides)))
    assert list(runs_root.iterdir()) == []
    with pytest.raises(ConfigError):  # an explicit root that does not exist yet is not created either
        launch_run(_config(**copy.deepcopy(overrides)), runs_root / "nested")
    assert not (runs_root / "nested").exists()
