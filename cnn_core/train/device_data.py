"""A data split resident on the training device as uint8, normalised batch by batch in one
multiply-add: no DataLoader, no per-image Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DeviceData:
    """One split resident on the training device as uint8, plus normalisation constants."""

    x: torch.Tensor
    y: torch.Tensor
    scale: torch.Tensor  # 1 / (255·std): uint8 straight to normalised in one multiply-add
    shift: torch.Tensor  # −mean / std

    def batch(self, index: torch.Tensor, channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.addcmul(self.shift, self.x[index].float(), self.scale)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.y[index]


def normalization_stats(normalization: str, splits) -> tuple[list[float], list[float]]:
    """Per-channel (mean, std) for a run: its training images' own ("dataset"), or 0.5 and 0.5
    ("half": pixels in [0, 1] become [−1, 1], as seed 000's transforms.Normalize((0.5, 0.5, 0.5), ...))."""
    if normalization == "half":
        channels = splits.input_shape[0]
        return [0.5] * channels, [0.5] * channels
    return splits.channel_stats()


def to_device(x: torch.Tensor, y: torch.Tensor, mean, std, device: torch.device) -> DeviceData:
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    return DeviceData(x.to(device), y.to(device), 1 / (255 * s), -m / s)
