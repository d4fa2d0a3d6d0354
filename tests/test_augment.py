"""Batched augmentation against direct oracles: a flip is torch.flip, a padded crop is a shifted
window of the zero-padded image, and a random resized crop keeps torchvision's area and
aspect-ratio ranges (read off a coordinate ramp, which bilinear sampling reproduces exactly)."""

import math

import pytest
import torch
import torch.nn.functional as F

from cnn_core.train.augment import RESIZED_CROP_RATIO, augment
from tests.conftest import tiny_config

H = W = 32


def config(*kinds, **more):
    return tiny_config(augment=list(kinds), **more)


def test_a_flip_is_a_mirror_of_half_the_images():
    x = torch.randn(64, 3, H, W, generator=torch.Generator().manual_seed(0))
    out = augment(x, config("hflip"), torch.Generator().manual_seed(1))
    flipped = [torch.allclose(o, torch.flip(i, dims=[-1]), atol=1e-5) for i, o in zip(x, out)]
    kept = [torch.allclose(o, i, atol=1e-5) for i, o in zip(x, out)]
    assert all(f or k for f, k in zip(flipped, kept)) and 16 < sum(flipped) < 48


def test_a_padded_crop_is_a_whole_pixel_window_of_the_zero_padded_image():
    x = torch.randn(32, 1, H, W, generator=torch.Generator().manual_seed(2))
    pad = 3
    out = augment(x, config("crop", crop_padding=pad), torch.Generator().manual_seed(3))
    padded = F.pad(x, (pad, pad, pad, pad))
    for image, result in zip(padded, out):
        windows = [
            image[:, pad + dy : pad + dy + H, pad + dx : pad + dx + W]
            for dy in range(-pad, pad + 1)
            for dx in range(-pad, pad + 1)
        ]
        assert any(torch.allclose(result, w, atol=1e-4) for w in windows)


def test_a_resized_crop_keeps_torchvisions_area_and_aspect_ratio_ranges():
    n, low = 400, 0.3
    columns = ((2 * torch.arange(W) + 1) / W - 1).view(1, 1, 1, W).expand(n, 1, H, W)  # each pixel's own x
    rows = ((2 * torch.arange(H) + 1) / H - 1).view(1, 1, H, 1).expand(n, 1, H, W)
    x = torch.cat([columns, rows], 1)
    out = augment(x, config("resized_crop", resized_crop_scale=low), torch.Generator().manual_seed(4))
    inner = slice(W // 4, 3 * W // 4)  # away from the zero padding at the edges
    sx = (out[:, 0, H // 2, inner][:, -1] - out[:, 0, H // 2, inner][:, 0]) / (
        columns[0, 0, 0, inner][-1] - columns[0, 0, 0, inner][0]
    )
    sy = (out[:, 1, inner, W // 2][:, -1] - out[:, 1, inner, W // 2][:, 0]) / (
        rows[0, 0, inner, 0][-1] - rows[0, 0, inner, 0][0]
    )
    area, ratio = sx * sy, sx / sy
    assert (sx <= 1 + 1e-4).all() and (sy <= 1 + 1e-4).all()
    unclipped = (sx < 1 - 1e-4) & (sy < 1 - 1e-4)
    assert unclipped.sum() > n / 2
    assert (area[unclipped] >= low - 1e-3).all() and (area <= 1 + 1e-3).all()
    lo, hi = RESIZED_CROP_RATIO
    assert (ratio[unclipped] >= lo - 1e-3).all() and (ratio[unclipped] <= hi + 1e-3).all()
    # log-uniform over the whole range, as torchvision draws it: both ends are reached
    assert ratio[unclipped].min() < lo * 1.1 and ratio[unclipped].max() > hi / 1.1
    assert (lo, hi) == pytest.approx((3 / 4, 4 / 3)) and math.isclose(lo * hi, 1.0)
