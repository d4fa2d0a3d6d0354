"""The generated `shapes` data set: ten filled outlines drawn at random places, sizes and
brightness from a seed, so it needs no download and is the same on every machine.
"""

from __future__ import annotations

import numpy as np
import torch

from cnn_core.data.catalog import SHAPE_NAMES


def shape_mask(kind: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    name = SHAPE_NAMES[kind]
    if name == "circle":
        return dy**2 + dx**2 <= r**2
    if name == "square":
        return (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
    if name == "triangle":
        return (dy <= r * 0.7) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if name == "cross":
        return ((np.abs(dy) <= r * 0.3) & (np.abs(dx) <= r)) | ((np.abs(dx) <= r * 0.3) & (np.abs(dy) <= r))
    if name == "ring":
        d2 = dy**2 + dx**2
        return (d2 <= r**2) & (d2 >= (r * 0.55) ** 2)
    if name == "diamond":
        return np.abs(dy) + np.abs(dx) <= r
    if name == "h-bar":
        return (np.abs(dy) <= r * 0.3) & (np.abs(dx) <= r)
    if name == "v-bar":
        return (np.abs(dx) <= r * 0.3) & (np.abs(dy) <= r)
    if name == "ellipse":
        return (dy / (r * 0.5)) ** 2 + (dx / r) ** 2 <= 1
    return (np.abs(np.abs(dy) - np.abs(dx)) <= r * 0.3) & (np.abs(dy) <= r)  # "x"


def generate_shapes(n: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """n colour images of the ten SHAPE_NAMES with random place, size, colours and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    labels = rng.integers(0, len(SHAPE_NAMES), n)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    for i, kind in enumerate(labels):
        r = rng.uniform(size * 0.18, size * 0.34)
        cy, cx = rng.uniform(r, size - r, 2)
        background = rng.uniform(0, 255, 3)
        colour = rng.uniform(0, 255, 3)
        while np.abs(colour - background).sum() < 180:  # keep the shape visible
            colour = rng.uniform(0, 255, 3)
        mask = shape_mask(int(kind), yy, xx, cy, cx, r)
        img = np.where(mask[None], colour[:, None, None], background[:, None, None])
        img = img + rng.normal(0, 12, img.shape)
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return torch.from_numpy(images), torch.as_tensor(labels, dtype=torch.int64)
