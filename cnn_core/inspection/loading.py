"""A trained run loaded for inspection: its model (final weights, or the latest checkpoint of a
stopped run), normalisation and test images; which runs can be inspected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnn_core.errors import CnnLabError
from cnn_core.files import read_json
from cnn_core.i18n import t


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
    from cnn_core.arch.model import build_model

    spec = read_json(run_dir / "spec.json")
    dataset = read_json(run_dir / "dataset.json")
    if spec is None or dataset is None:
        raise InspectionError(t("inspect.err.not_started", run_id=run_dir.name))
    if isinstance(spec.get("backbone"), dict):
        spec = {**spec, "backbone": {**spec["backbone"], "pretrained": False}}  # weights come from the run
    model = build_model(spec)
    weights = run_dir / "model.safetensors"
    if weights.exists():
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(weights)))
        source = "final"
    else:
        from cnn_core.train.checkpoints import load_latest_checkpoint

        state, _ = load_latest_checkpoint(run_dir)
        if state is None:
            raise InspectionError(t("inspect.err.no_weights", run_id=run_dir.name))
        model.load_state_dict(state["model"])
        source = "checkpoint"
    return LoadedRun(model.eval(), spec, list(dataset["class_names"]), dataset["mean"], dataset["std"], source)


def inspectable_runs(root: str | Path | None = None) -> list:
    """Runs with weights to look at: completed ones first (newest first), then checkpointed ones."""
    from cnn_core.runs.directory import list_runs

    runs = [
        r
        for r in list_runs(root)
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
    from cnn_core.data.loaders import load_splits
    from cnn_core.train.config import TrainConfig

    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    splits = load_splits(
        config.dataset, config.val_split, config.seed, config.data_dir, config.folder_path, config.image_size
    )
    return splits.test_x, splits.test_y
