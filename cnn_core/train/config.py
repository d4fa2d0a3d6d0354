"""The training configuration: one dataclass per run, saved as the run's config.json.

Every field is checked before anything starts; unknown keys and bad values raise ConfigError
with the field's name and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from cnn_core.arch.presets import PRESETS, preset_spec
from cnn_core.arch.spec import SpecError
from cnn_core.arch.summary import summarize
from cnn_core.data.catalog import DATASETS
from cnn_core.errors import CnnLabError
from cnn_core.i18n import t

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
AUGMENTATIONS = ("hflip", "crop", "rotate", "resized_crop")
NORMALIZATIONS = ("dataset", "half")  # the training set's mean and std, or (0.5, 0.5) as seed 000
MAX_CLIP_GRAD_NORM = 1_000_000
MAX_PROCESSES_PER_NODE = 64  # torchrun's --nproc-per-node: one per GPU, or a few per CPU machine
MAX_NODES = 1024


class ConfigError(CnnLabError, ValueError):
    """A training configuration that cannot run, with the field and the fix."""


@dataclass
class TrainConfig:
    dataset: str = "digits"
    preset: str | None = "seed002_mnist_cnn"
    spec: dict | None = None  # an architecture spec; wins over preset when given
    epochs: int = 3
    batch_size: int = 32  # the global batch: all processes together take this many images a step
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"
    step_size: int = 1  # epochs between decays of the step schedule
    gamma: float = 0.1  # decay factor of the step schedule
    label_smoothing: float = 0.0
    clip_grad_norm: float | None = None  # max total L2 norm of the gradients per step; None: no clipping
    augment: list[str] = field(default_factory=list)
    crop_padding: int = 4
    rotation_degrees: float = 10.0
    resized_crop_scale: float = 0.8  # smallest area fraction kept by random resized crop
    val_split: float = 0.1
    normalization: str = "dataset"  # "half": (x − 0.5) / 0.5 per channel, pixels to [−1, 1]
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = False
    channels_last: bool | None = None  # None: chosen for the device (devices.use_channels_last)
    max_wall_time_s: float | None = None
    data_dir: str | None = None  # defaults to the settings' data dir
    folder_path: str | None = None  # for dataset "folder"
    image_size: int = 32  # for dataset "folder"
    deterministic: bool = True
    # torchrun's processes: per machine, and machines; each process takes batch_size / world_size
    # images of every step (per_process_batch). One process and one machine: no torchrun.
    nproc_per_node: int = 1
    nnodes: int = 1
    log_interval_s: float = 0.5  # metrics are read back from the device at most this often
    checkpoint_interval_s: float = 120.0  # also checkpoint mid-epoch on long epochs
    name: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def world_size(self) -> int:
        """How many processes train the run together (torchrun's WORLD_SIZE)."""
        return self.nproc_per_node * self.nnodes

    @property
    def per_process_batch(self) -> int:
        """The most images one process takes in a step: its share of the global batch_size."""
        return -(-self.batch_size // self.world_size)

    @classmethod
    def from_dict(cls, raw: Any) -> TrainConfig:
        if not isinstance(raw, dict):
            raise ConfigError(t("config.err.not_object"))
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ConfigError(t("config.err.unknown", keys=", ".join(unknown), allowed=", ".join(sorted(names))))
        config = cls(**raw)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError on the first bad field."""

        def bad(name, allowed):
            return ConfigError(t("config.err.value", name=name, value=json.dumps(getattr(self, name)), allowed=allowed))

        def whole(name, low, high=None):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
                raise bad(name, t("config.allowed.whole", low=low, high=high if high else "∞"))

        def number(name, low, high=None, open_low=False, none_ok=False, allowed=None):
            value = getattr(self, name)
            if value is None and none_ok:
                return
            ok = (
                not isinstance(value, bool)
                and isinstance(value, (int, float))
                and math.isfinite(value)
                and (value > low if open_low else value >= low)
                and (high is None or value <= high)
            )
            if not ok:
                raise bad(
                    name,
                    allowed
                    or t(
                        "config.allowed.number",
                        low=("> " if open_low else "≥ ") + str(low),
                        high=high if high is not None else "∞",
                    ),
                )

        if self.dataset not in DATASETS:
            raise bad("dataset", ", ".join(DATASETS))
        if self.spec is None and self.preset not in PRESETS:
            raise bad("preset", ", ".join(PRESETS))
        if self.spec is not None and not isinstance(self.spec, dict):
            raise bad("spec", t("config.allowed.spec"))
        whole("epochs", 1, 10_000)
        whole("batch_size", 1, 65_536)
        whole("nproc_per_node", 1, MAX_PROCESSES_PER_NODE)
        whole("nnodes", 1, MAX_NODES)
        if self.batch_size < self.world_size:
            raise ConfigError(t("config.err.batch_world", batch=self.batch_size, world=self.world_size))
        whole("step_size", 1)
        whole("seed", 0, 2**31 - 1)
        whole("crop_padding", 0, 64)
        whole("image_size", 8, 512)
        number("lr", 0, 10, open_low=True)
        number("momentum", 0, 1)
        number("weight_decay", 0, 1)
        number("gamma", 0, 1, open_low=True)
        number("label_smoothing", 0, 0.99)
        clip_allowed = t("config.allowed.clip_grad_norm", high=MAX_CLIP_GRAD_NORM)
        number("clip_grad_norm", 0, MAX_CLIP_GRAD_NORM, open_low=True, none_ok=True, allowed=clip_allowed)
        number("rotation_degrees", 0, 180)
        number("resized_crop_scale", 0.05, 1)
        number("val_split", 0, 0.9)
        number("max_wall_time_s", 0, open_low=True, none_ok=True)
        number("log_interval_s", 0.05, 60)
        number("checkpoint_interval_s", 1, open_low=False)
        choices = (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("device", DEVICES),
            ("normalization", NORMALIZATIONS),
        )
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise bad(name, ", ".join(allowed))
        if not isinstance(self.augment, list) or any(a not in AUGMENTATIONS for a in self.augment):
            raise bad("augment", ", ".join(AUGMENTATIONS))
        for name in ("mixed_precision", "channels_last", "deterministic"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "channels_last" and value is None):
                raise bad(name, "true, false" + (", null" if name == "channels_last" else ""))
        if self.dataset == "folder" and not self.folder_path:
            raise ConfigError(t("config.err.folder_path"))
        if not isinstance(self.name, str):
            raise bad("name", t("config.allowed.text"))
        info = DATASETS[self.dataset]
        if info.input_shape is not None:
            try:
                summarize(self.architecture(info.input_shape, info.num_classes))
            except SpecError as exc:
                raise ConfigError(t("config.err.spec", message=str(exc))) from exc

    def architecture(self, input_shape: tuple[int, int, int], num_classes: int) -> dict:
        """The spec to train on a dataset of this input shape and class count: a preset is fitted to
        it; a user's own spec must already match it (ConfigError otherwise), except on a folder
        dataset, whose shape is known only once loaded."""

        spec = copy.deepcopy(self.spec) if self.spec is not None else preset_spec(self.preset)
        if self.spec is not None and self.dataset != "folder":
            # A user's own network is trained as written: a mismatch is refused, never silently refitted
            # (a transfer-learning backbone takes any input size and gray or colour: its shape follows).
            given_shape, given_classes = spec.get("input_shape"), spec.get("num_classes")
            if "backbone" in spec:
                given_shape = None
            if given_shape is not None and (not isinstance(given_shape, list) or given_shape != list(input_shape)):
                raise ConfigError(
                    t(
                        "config.err.input_shape",
                        got="×".join(map(str, given_shape)) if isinstance(given_shape, list) else str(given_shape)[:40],
                        dataset=self.dataset,
                        want="×".join(map(str, input_shape)),
                    )
                )
            if given_classes is not None and given_classes != num_classes:
                raise ConfigError(
                    t("config.err.num_classes", got=str(given_classes)[:40], dataset=self.dataset, want=num_classes)
                )
        # A preset's classifier head sized for the spec's own class count follows the dataset's.
        linears = [
            layer for layer in spec.get("layers") or [] if isinstance(layer, dict) and layer.get("type") == "linear"
        ]
        if linears and linears[-1].get("out_features") == spec.get("num_classes"):
            linears[-1]["out_features"] = num_classes
        spec["input_shape"] = list(input_shape)
        spec["num_classes"] = num_classes
        return spec


SEED004_EPOCHS = 3  # seed 004 trains its networks for three epochs, one image at a time, and times them


def one_image_at_a_time(raw: dict, name: str) -> TrainConfig:
    """A run's configuration (its config.json) trained as seed 004 trains: batch size 1 for three
    epochs, under a new name; data, network and optimiser stay the run's. ConfigError if the run's
    configuration is not one."""
    config = dataclasses.replace(TrainConfig.from_dict(raw), batch_size=1, epochs=SEED004_EPOCHS, name=name)
    config.validate()
    return config
