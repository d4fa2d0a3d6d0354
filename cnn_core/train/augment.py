"""Batched augmentation on the training device: flip, padded crop, rotation and resized crop as
one random affine warp per image, and the preview the Train page shows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cnn_core.train.config import TrainConfig


def augment(x: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """All enabled augmentations as one random affine warp per image, in one grid_sample call.

    Flip mirrors x; crop translates by up to crop_padding pixels (zero fill, like padding then
    cropping); rotate turns by up to ±rotation_degrees; resized_crop zooms into a random
    region of at least resized_crop_scale of the area. Normalised zero is the fill value.
    """
    if not config.augment:
        return x
    n, _, h, w = x.shape
    dev = x.device

    def uniform(low, high):
        return torch.rand(n, device=dev, generator=generator) * (high - low) + low

    ones, zeros = torch.ones(n, device=dev), torch.zeros(n, device=dev)
    scale, angle, tx, ty, flip = ones.clone(), zeros.clone(), zeros.clone(), zeros.clone(), ones.clone()
    if "hflip" in config.augment:
        flip = torch.where(torch.rand(n, device=dev, generator=generator) < 0.5, -ones, ones)
    if "rotate" in config.augment:
        angle = uniform(-config.rotation_degrees, config.rotation_degrees) * (math.pi / 180)
    if "resized_crop" in config.augment:
        scale = uniform(config.resized_crop_scale, 1.0).sqrt()  # side fraction of the kept region
        tx = tx + uniform(-1, 1) * (1 - scale)
        ty = ty + uniform(-1, 1) * (1 - scale)
    if "crop" in config.augment and config.crop_padding:
        pad = config.crop_padding
        # whole-pixel shifts, as a padded random crop gives; grid units are 2/size per pixel
        tx = tx + torch.randint(-pad, pad + 1, (n,), device=dev, generator=generator).float() * (2 / w)
        ty = ty + torch.randint(-pad, pad + 1, (n,), device=dev, generator=generator).float() * (2 / h)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augmentation_preview(images: torch.Tensor, config: TrainConfig, seed: int = 0) -> torch.Tensor:
    """The images (uint8 N×C×H×W) as the trainer would see them after augmentation, as uint8."""
    x = images.float().div(255)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    gen = torch.Generator().manual_seed(seed)
    out = augment(x - mean, config, gen) + mean  # the trainer fills with the mean colour, as here
    return out.mul(255).round().clamp(0, 255).to(torch.uint8)
