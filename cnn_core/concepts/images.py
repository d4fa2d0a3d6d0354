"""Pictures for the concept lab: scikit-learn's two bundled photos, an embedded digit, a
generated shape, or the user's upload, as float32 arrays in [0, 1] shaped (C, H, W).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits, load_sample_image

from cnn_core.concepts import ConceptError
from cnn_core.data.catalog import SHAPE_NAMES
from cnn_core.data.synthetic import shape_mask
from cnn_core.data.uploads import UploadError, decode_upload
from cnn_core.i18n import t

SOURCES = ("photo", "digit", "shape", "upload")
PHOTOS = ("china.jpg", "flower.jpg")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, what PIL's "L" mode uses


@lru_cache(maxsize=2)
def _photo_uint8(name: str) -> np.ndarray:
    return np.ascontiguousarray(load_sample_image(name).transpose(2, 0, 1))


def sample_photo(name: str = "china.jpg") -> np.ndarray:
    """One of scikit-learn's two bundled 427×640 photos, (3, H, W) in [0, 1]."""
    if name not in PHOTOS:
        raise ConceptError(t("concept.err.photo", name=name, choices=", ".join(PHOTOS)))
    return _photo_uint8(name).astype(np.float32) / 255.0


@lru_cache(maxsize=1)
def _digits():
    bunch = load_digits()
    return bunch.images.astype(np.float32) / 16.0, bunch.target


def digit_image(index: int = 0) -> tuple[np.ndarray, int]:
    """Digit number `index` of scikit-learn's embedded set: (1, 8, 8) in [0, 1], and its label."""
    images, labels = _digits()
    if not 0 <= index < len(images):
        raise ConceptError(t("concept.err.digit_index", index=index, last=len(images) - 1))
    return images[index][None].copy(), int(labels[index])


def shape_image(name: str = "cross", size: int = 64) -> np.ndarray:
    """A clean white shape from the generated `shapes` set on black, (1, size, size)."""
    if name not in SHAPE_NAMES:
        raise ConceptError(t("concept.err.shape", name=name, choices=", ".join(SHAPE_NAMES)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = (size - 1) / 2
    mask = shape_mask(SHAPE_NAMES.index(name), yy, xx, centre, centre, size * 0.34)
    return mask[None].astype(np.float32)


def image_from_upload(data: bytes, max_bytes: int) -> np.ndarray:
    """An uploaded picture, (3, H, W) in [0, 1]; bad files raise ConceptError."""
    try:
        rgb = decode_upload(data, max_bytes)
    except UploadError as exc:
        raise ConceptError(str(exc)) from exc
    return rgb.transpose(2, 0, 1).astype(np.float32) / 255.0


def fit_longest_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longest side is `side` pixels (at least 1 pixel each way), keeping the aspect."""
    if side < 1:
        raise ConceptError(t("concept.err.side", side=side))
    c, h, w = image.shape
    scale = side / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (new_h, new_w) == (h, w):
        return image.astype(np.float32, copy=True)
    x = torch.from_numpy(np.array(image, dtype=np.float32, order="C"))[None]  # a copy: any view works
    # antialias only matters when shrinking; nearest keeps tiny inputs (8×8 digits) crisp when growing
    if scale < 1:
        y = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    else:
        y = F.interpolate(x, size=(new_h, new_w), mode="nearest")
    return y[0].clamp_(0, 1).numpy()


def to_gray(image: np.ndarray) -> np.ndarray:
    """(C, H, W) → (H, W): luminance for RGB, the only channel otherwise."""
    if image.shape[0] == 3:
        return np.tensordot(LUMA, image, axes=1).astype(np.float32)
    return image[0].astype(np.float32, copy=True)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) → (3, H, W), repeating a single channel."""
    return np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image


def as_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def sample_input(channels: int, height: int, width: int) -> np.ndarray:
    """A picture shaped like a network's input, to draw on: embedded digit 0 for one channel, the
    China photo for three, its luminance for any other count (shown as gray). The source is
    centre-cropped to the target's aspect, then resized. Returns (1 or 3, height, width) in [0, 1]."""
    if height < 1 or width < 1:
        raise ConceptError(t("concept.err.side", side=min(height, width)))
    if channels == 1:
        image = digit_image(0)[0]
    else:
        image = sample_photo()
        if channels != 3:
            image = to_gray(image)[None]
    _, h, w = image.shape
    if h * width > w * height:  # too tall: crop rows
        keep = max(1, round(w * height / width))
        image = image[:, (h - keep) // 2 : (h - keep) // 2 + keep]
    else:
        keep = max(1, round(h * width / height))
        image = image[:, :, (w - keep) // 2 : (w - keep) // 2 + keep]
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    y = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return y[0].clamp_(0, 1).numpy()
