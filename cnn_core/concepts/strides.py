"""Stride: the same kernel at several strides, each output and its multiply-adds, with the
convolution timed on this machine to show the ≈ s² saving."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnn_core.concepts import ConceptError
from cnn_core.concepts.convolution import check_fits, to_tensor
from cnn_core.i18n import t

STRIDES = (1, 2, 4, 8, 16)


def stride_formula() -> str:
    """The lesson's formula in LaTeX, its words in the current language."""
    return (
        r"H_{out} = \left\lfloor \frac{H - k}{s} \right\rfloor + 1 \qquad"
        rf"\text{{{t('concept.formula.macs')}}} = H_{{out}}\, W_{{out}}\, k^2 \approx \frac{{(H - k)(W - k)\, k^2}}{{s^2}}"
    )


@dataclass
class StrideResult:
    stride: int
    output: np.ndarray
    macs: int  # multiply-adds: output positions × kernel size
    seconds: float  # best of the repeats, conv2d alone
    peak: tuple[int, int]  # brightest output, in input pixels (window's top-left)


def stride_sweep(image: np.ndarray, kernel: np.ndarray, strides=STRIDES, repeats: int = 3) -> list[StrideResult]:
    """The same kernel at several strides, timed on this machine's CPU."""
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    check_fits(*image.shape, kernel)
    x, k = to_tensor(image)[None, None], to_tensor(kernel)[None, None]
    results = []
    with torch.no_grad():
        F.conv2d(x, k)  # first call pays one-off set-up costs
        for stride in strides:
            if stride < 1:
                raise ConceptError(t("concept.err.stride_padding", stride=stride, padding=0))
            best = float("inf")
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                out = F.conv2d(x, k, stride=stride)
                best = min(best, time.perf_counter() - start)
            output = out[0, 0].numpy()
            peak = np.unravel_index(int(np.argmax(output)), output.shape)
            results.append(
                StrideResult(
                    stride, output, output.size * kernel.size, best, (int(peak[0]) * stride, int(peak[1]) * stride)
                )
            )
    return results


@dataclass
class StrideRow:
    stride: int
    height: int  # output size
    width: int
    macs: int
    ms: float
    speedup: float  # measured: time at the reference stride / time at this one
    mac_ratio: float  # MACs at the reference stride / MACs at this one (≈ (s / s_ref)²)
    ideal: float  # (s / s_ref)²: the speed-up if time followed the work exactly
    ideal_seconds: float  # reference time / ideal
    peak_shift: int  # how far the brightest output moved from the reference stride's, in input pixels


def stride_summary(results: list[StrideResult]) -> list[StrideRow]:
    """One row per stride, measured against the smallest stride of the sweep (stride 1 when present)."""
    if not results:
        return []
    ref = min(results, key=lambda r: r.stride)
    rows = []
    for r in results:
        ideal = (r.stride / ref.stride) ** 2
        rows.append(
            StrideRow(
                r.stride,
                int(r.output.shape[0]),
                int(r.output.shape[1]),
                r.macs,
                r.seconds * 1000,
                ref.seconds / r.seconds if r.seconds > 0 else float("inf"),
                ref.macs / r.macs,
                ideal,
                ref.seconds / ideal,
                max(abs(r.peak[0] - ref.peak[0]), abs(r.peak[1] - ref.peak[1])),
            )
        )
    return rows
