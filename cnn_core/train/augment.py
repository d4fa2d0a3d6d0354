"""Batched augmentation on the training device: flip, padded crop, rotation and resized crop as
one random affine warp per image, and the preview the Train page shows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cnn_core.train.config import TrainConfig

RESIZED_CROP_RATIO = (3 / 4, 4 / 3)  # width / height of the kept region: torchvision's RandomResizedCrop range


def augment(x: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """All enabled augmentations as one random affine warp per image, in one grid_sample call.

    Flip mirrors x; crop translates by up to crop_padding pixels (zero fill, like padding then
    cropping); rotate turns by up to ±rotation_degrees; resized_crop zooms into a random
    region of at least resized_crop_scale of the area, its width / height drawn log-uniformly from
    RESIZED_CROP_RATIO (a side that would not fit is cut to the image). Normalised zero is the fill value.
    """
    if not config.augment:
        return x
    n, _, h, w = x.shape
    dev = x.device

    def uniform(low, high):
        return torch.rand(n, device=dev, generator=generator) * (high - low) + low

    ones, zeros = torch.ones(n, device=dev), torch.zeros(n, device=dev)
    sx, sy, angle, tx, ty, flip = ones.clone(), ones.clone(), zeros.clone(), zeros.clone(), zeros.clone(), ones.clone()
    if "hflip" in config.augment:
        flip = torch.where(torch.rand(n, device=dev, generator=generator) < 0.5, -ones, ones)
    if "rotate" in config.augment:
        angle = uniform(-config.rotation_degrees, config.rotation_degrees) * (math.pi / 180)
    if "resized_crop" in config.augment:
        area = uniform(config.resized_crop_scale, 1.0)
        ratio = uniform(math.log(RESIZED_CROP_RATIO[0]), math.log(RESIZED_CROP_RATIO[1])).exp()
        sx, sy = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)  # side fractions
        tx = tx + uniform(-1, 1) * (1 - sx)
        ty = ty + uniform(-1, 1) * (1 - sy)
    if "crop" in config.augment and config.crop_padding:
        pad = config.crop_padding
        # whole-pixel shifts, as a padded random crop gives; grid units are 2/size per pixel
        tx = tx + torch.randint(-pad, pad + 1, (n,), device=dev, generator=generator).float() * (2 / w)
        ty = ty + torch.randint(-pad, pad + 1, (n,), device=dev, generator=generator).float() * (2 / h)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # rotation × (sx, sy) zoom × flip: an output pixel (u, v) reads the input at this affine map of it
    row_x = torch.stack([cos * sx * flip, -sin * sy, tx], 1)
    row_y = torch.stack([sin * sx * flip, cos * sy, ty], 1)
    theta = torch.stack([row_x, row_y], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augmentation_preview(images: torch.Tensor, config: TrainConfig, seed: int = 0) -> torch.Tensor:
    """The images (uint8 N×C×H×W) as the trainer would see them after augmentation, as uint8."""
    x = images.float().div(255)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    gen = torch.Generator().manual_seed(seed)
    out = augment(x - mean, config, gen) + mean  # the trainer fills with the mean colour, as here
    return out.mul(255).round().clamp(0, 255).to(torch.uint8)
