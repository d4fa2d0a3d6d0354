"""A trained run opened for inspection: which runs have weights to look at, a run's model (final
weights, or the latest checkpoint of a stopped run) with its normalisation, its test images, and a
fingerprint that changes with its weights. InspectionError is the inspection modules' error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from cnn_core.arch.model import build_model
from cnn_core.data.loaders import load_splits
from cnn_core.errors import CnnLabError
from cnn_core.files import read_json
from cnn_core.i18n import t
from cnn_core.runs.directory import list_runs
from cnn_core.train.checkpoints import load_latest_checkpoint
from cnn_core.train.config import TrainConfig


class InspectionError(CnnLabError, RuntimeError):
    """A run, image or request that cannot be inspected, with the reason."""


@dataclass
class LoadedRun:
    model: nn.Module
    spec: dict
    class_names: list[str]
    mean: list[float]
    std: list[float]
    source: str  # "final" weights or "checkpoint"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.spec["input_shape"])

    def normalise(self, images_uint8: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (images_uint8.float() / 255 - mean) / std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (x * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)


def load_run(run_dir: Path) -> LoadedRun:
    """The trained model of a run: final weights when completed, else the latest checkpoint."""
    spec = read_json(run_dir / "spec.json")
    dataset = read_json(run_dir / "dataset.json")
    if spec is None or dataset is None:
        raise InspectionError(t("inspect.err.not_started", run_id=run_dir.name))
    if isinstance(spec.get("backbone"), dict):
        spec = {**spec, "backbone": {**spec["backbone"], "pretrained": False}}  # weights come from the run
    model = build_model(spec)
    weights = run_dir / "model.safetensors"
    final = weights.exists()
    checkpoint = None if final else load_latest_checkpoint(run_dir)[0]
    if not final and checkpoint is None:
        raise InspectionError(t("inspect.err.no_weights", run_id=run_dir.name))
    try:  # a damaged file (truncated, random bytes, a folder of that name), or weights of another network
        model.load_state_dict(load_file(str(weights)) if final else checkpoint["model"])
    except (SafetensorError, RuntimeError, KeyError, OSError) as exc:
        raise InspectionError(t("inspect.err.bad_weights", run_id=run_dir.name, reason=exc)) from exc
    source = "final" if final else "checkpoint"
    return LoadedRun(model.eval(), spec, list(dataset["class_names"]), dataset["mean"], dataset["std"], source)


def inspectable_runs(root: str | Path | None = None, visitor: str | None = None) -> list:
    """Runs with weights to look at that visitor may see: completed ones first (newest first), then
    checkpointed ones."""
    runs = [
        r
        for r in list_runs(root, visitor)
        if r.status.state not in ("queued",)
        and ((r.path / "model.safetensors").exists() or (r.path / "checkpoints" / "latest.json").exists())
    ]
    return sorted(runs, key=lambda r: (r.status.state != "completed", -r.status.created))


def run_fingerprint(run_dir: Path) -> str:
    """Changes whenever the run's weights do, so cached models refresh."""
    paths = [run_dir / "model.safetensors", run_dir / "checkpoints" / "latest.json"]
    return "|".join(f"{p.stat().st_mtime_ns}" for p in paths if p.exists())


def load_test_images(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's test images (uint8) and labels, reloaded from its dataset."""
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    splits = load_splits(
        config.dataset, config.val_split, config.seed, config.data_dir, config.folder_path, config.image_size
    )
    return splits.test_x, splits.test_y
