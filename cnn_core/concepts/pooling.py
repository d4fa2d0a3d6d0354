"""Pooling lessons: max / average / global pooling on a small grid and on a feature map, and
one conv layer's three stages (conv with stride, ReLU with bias, max pooling) for any settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnn_core.concepts import ConceptError
from cnn_core.concepts.convolution import check_fits, cross_correlate
from cnn_core.i18n import t

POOL_KINDS = ("max", "avg", "global_max", "global_avg")
POOL_FORMULA = r"H_{out} = \left\lfloor \frac{H - k}{s} \right\rfloor + 1"  # in LaTeX

# A 4×4 feature map whose 2×2 windows each have a different winner position, so max pooling's
# choice is visible; its pooled values are checked by hand in the tests.
EXAMPLE_4X4 = np.array([[1, 3, 2, 1], [4, 6, 5, 0], [3, 1, 1, 2], [0, 2, 7, 4]], dtype=np.float32)


@dataclass
class Pooled:
    kind: str
    size: int  # window side (the whole map for global pooling)
    stride: int
    output: np.ndarray
    winners: list[tuple[int, int]] | None  # for max pooling: the input cell each output copied


def pool(feature_map: np.ndarray, kind: str, size: int = 2, stride: int | None = None) -> Pooled:
    """Pool a (H, W) map with torch's own pooling ops; global kinds ignore size and stride."""
    x = torch.from_numpy(np.array(feature_map, dtype=np.float32, order="C"))[None, None]  # a copy: any view works
    h, w = feature_map.shape
    if kind not in POOL_KINDS:
        raise ConceptError(t("concept.err.pool_kind", kind=kind, choices=", ".join(POOL_KINDS)))
    if kind.startswith("global"):
        size, stride = max(h, w), 1
        op = F.adaptive_max_pool2d if kind == "global_max" else F.adaptive_avg_pool2d
        out, indices = op(x, 1, return_indices=True) if kind == "global_max" else (op(x, 1), None)
    else:
        stride = size if stride is None else stride
        if size < 1 or stride < 1:
            raise ConceptError(t("concept.err.pool_numbers", size=size, stride=stride))
        if size > h or size > w:
            raise ConceptError(t("concept.err.pool_too_big", size=size, h=h, w=w))
        if kind == "max":
            out, indices = F.max_pool2d(x, size, stride, return_indices=True)
        else:
            out, indices = F.avg_pool2d(x, size, stride), None
    winners = None if indices is None else [divmod(int(i), w) for i in indices.flatten()]
    return Pooled(kind, size, stride, out[0, 0].numpy(), winners)


@dataclass
class LayerStages:
    conv_stride: int
    bias: float
    pool_size: int
    pool_stride: int
    convolved: np.ndarray
    activated: np.ndarray  # relu(convolved + bias)
    pooled: np.ndarray | None  # None when the pooling window does not fit the activated map
    note: str  # why pooled is missing, or ""


def conv_relu_pool(
    image: np.ndarray, kernel: np.ndarray, conv_stride: int, bias: float, pool_size: int, pool_stride: int
) -> LayerStages:
    """The three stages of one conv layer (seed 001's figure 13), each with torch's ops."""
    check_fits(*image.shape, kernel, conv_stride)
    convolved = cross_correlate(image, kernel, stride=conv_stride)
    activated = np.maximum(convolved + np.float32(bias), 0)
    h, w = activated.shape
    pooled, note = None, ""
    if pool_size > min(h, w):
        note = t("concept.err.pool_too_big", size=pool_size, h=h, w=w)
    else:
        pooled = pool(activated, "max", pool_size, pool_stride).output
    return LayerStages(conv_stride, float(bias), pool_size, pool_stride, convolved, activated, pooled, note)


def stage_grid(image: np.ndarray, kernel: np.ndarray, conv_strides, bias: float, pools) -> list[LayerStages]:
    """Every combination of conv stride × (pool size, pool stride) for one bias, row by row."""
    cells = []
    for conv_stride in conv_strides:
        for pool_size, pool_stride in pools:
            try:
                cells.append(conv_relu_pool(image, kernel, conv_stride, bias, pool_size, pool_stride))
            except ConceptError as exc:
                empty = np.zeros((0, 0), dtype=np.float32)
                cells.append(
                    LayerStages(conv_stride, float(bias), pool_size, pool_stride, empty, empty, None, str(exc))
                )
    return cells
