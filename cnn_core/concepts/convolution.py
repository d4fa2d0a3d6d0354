"""Convolution lessons: the sliding window step by step, convolution vs cross-correlation,
edge signs, and classic kernels on a photo (one channel or RGB summed). A patch used as a
kernel lives in patch_match.py, stride and its timing in strides.py.

Everything that produces a whole map goes through torch's F.conv2d, the operation the
networks use; the step-by-step walk is written as explicit loops so that the tests can hold
the two against each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnn_core.arch.shapes import conv_out
from cnn_core.concepts import ConceptError
from cnn_core.i18n import t

MAX_KERNEL_SIDE = 15
# The lessons' formulas, in LaTeX.
STEP_FORMULA = (
    r"y[i, j] = \sum_{m=0}^{k_h-1} \sum_{n=0}^{k_w-1} x[i s + m,\ j s + n]\; w[m, n]"
    r"\qquad H_{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1"
)


def flip_formula() -> str:
    """The flip lesson's formula, its words in the current language (a function: made per page run)."""
    return (
        rf"\begin{{aligned}} \text{{{t('concept.formula.cross_correlation')} }}\; y[i, j] &= \textstyle\sum_{{m, n}}"
        r" x[i + m,\ j + n]\; w[m, n] \\ "
        rf"\text{{{t('concept.formula.convolution')} }}\; y[i, j] &= \textstyle\sum_{{m, n}} x[i + m,\ j + n]\;"
        r" w[k_h{-}1{-}m,\ k_w{-}1{-}n] \end{aligned}"
    )


KERNEL_FORMULA = r"y[i, j] = \sum_{c=1}^{C} \sum_{m, n} x_c[i + m,\ j + n]\; w[m, n]"

# Sign convention: F.conv2d cross-correlates, so "edge_vertical" gives left minus right and is
# positive where the picture goes from light (left) to dark (right).
KERNELS: dict[str, np.ndarray] = {
    name: np.array(rows, dtype=np.float32)
    for name, rows in {
        "edge_vertical": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
        "edge_horizontal": [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
        "sobel_x": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
        "sobel_y": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
        "box_blur": [[1 / 9] * 3] * 3,
        "gaussian_blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    }.items()
}


def parse_kernel(text: str) -> np.ndarray:
    """A kernel typed as rows of numbers: one row per line (or separated by ';'), values by
    spaces or commas. Fractions such as 1/9 are allowed."""
    rows = [r for r in re.split(r"[;\n]", text.strip()) if r.strip()]
    if not rows:
        raise ConceptError(t("concept.err.kernel_empty"))
    values = []
    for number, row in enumerate(rows, 1):
        cells = [c for c in re.split(r"[,\s]+", row.strip().strip("[]")) if c]
        parsed = []
        for cell in cells:
            try:
                if "/" in cell:
                    top, bottom = cell.split("/", 1)
                    value = float(top) / float(bottom)
                else:
                    value = float(cell)
            except (ValueError, ZeroDivisionError):
                raise ConceptError(t("concept.err.kernel_number", row=number, cell=cell)) from None
            if not np.isfinite(value):
                raise ConceptError(t("concept.err.kernel_number", row=number, cell=cell))
            parsed.append(value)
        values.append(parsed)
    widths = {len(r) for r in values}
    if len(widths) != 1:
        raise ConceptError(t("concept.err.kernel_ragged", widths=", ".join(str(len(r)) for r in values)))
    kernel = np.array(values, dtype=np.float32)
    if max(kernel.shape) > MAX_KERNEL_SIDE:
        raise ConceptError(t("concept.err.kernel_big", h=kernel.shape[0], w=kernel.shape[1], cap=MAX_KERNEL_SIDE))
    return kernel


def format_kernel(kernel: np.ndarray) -> str:
    return "\n".join(" ".join(f"{v:g}" for v in row) for row in np.asarray(kernel))


def check_fits(height: int, width: int, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> None:
    """Raise ConceptError, with the numbers, when no window position fits."""
    kh, kw = kernel.shape
    if stride < 1 or padding < 0:
        raise ConceptError(t("concept.err.stride_padding", stride=stride, padding=padding))
    if height + 2 * padding < kh or width + 2 * padding < kw:
        raise ConceptError(
            t(
                "concept.err.kernel_too_big",
                h=height,
                w=width,
                p=padding,
                kh=kh,
                kw=kw,
                need=max(0, -(-(max(kh - height, kw - width)) // 2)),
            )
        )


def to_tensor(image: np.ndarray) -> torch.Tensor:
    # a copy: ascontiguousarray keeps the negative strides of a 1-element view (flip of a 1×1
    # kernel), and torch refuses those
    return torch.from_numpy(np.array(image, dtype=np.float32, order="C"))


def cross_correlate(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """What torch's conv2d computes: out[i, j] = Σ x[i·s + m, j·s + n] · k[m, n]. (H, W) → (H', W')."""
    check_fits(*image.shape, kernel, stride, padding)
    with torch.no_grad():
        out = F.conv2d(to_tensor(image)[None, None], to_tensor(kernel)[None, None], stride=stride, padding=padding)
    return out[0, 0].numpy()


def cross_correlate64(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """cross_correlate (stride 1, no padding) in float64, for sums that must not lose precision."""
    with torch.no_grad():
        out = F.conv2d(
            torch.from_numpy(np.array(image, dtype=np.float64, order="C"))[None, None],
            torch.from_numpy(np.array(kernel, dtype=np.float64, order="C"))[None, None],
        )
    return out[0, 0].numpy()


def flip(kernel: np.ndarray) -> np.ndarray:
    """Rotate by 180°: the flip that separates convolution from cross-correlation."""
    return np.asarray(kernel)[::-1, ::-1].copy()


def convolve(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """True convolution, out[i, j] = Σ x[i + m, j + n] · k[kh−1−m, kw−1−n]: cross-correlation with the flipped kernel."""
    return cross_correlate(image, flip(kernel), stride, padding)


# ---------------------------------------------------------------- step by step


@dataclass
class ConvStep:
    row: int
    col: int
    top: int  # window's top-left in the padded input
    left: int
    window: np.ndarray
    products: np.ndarray
    total: float


@dataclass
class ConvWalk:
    padded: np.ndarray  # the input with its zero border
    kernel: np.ndarray
    stride: int
    padding: int
    output: np.ndarray  # every position's sum, computed by the loops below

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.output.shape

    def step(self, row: int, col: int) -> ConvStep:
        rows, cols = self.output.shape
        if not (0 <= row < rows and 0 <= col < cols):
            raise ConceptError(t("concept.err.position", row=row, col=col, rows=rows, cols=cols))
        return _step(self.padded, self.kernel, self.stride, row, col)

    def steps(self):
        """Positions in the order the window visits them: row by row, left to right."""
        rows, cols = self.output.shape
        for row in range(rows):
            for col in range(cols):
                yield self.step(row, col)


def _step(padded: np.ndarray, kernel: np.ndarray, stride: int, row: int, col: int) -> ConvStep:
    kh, kw = kernel.shape
    top, left = row * stride, col * stride
    window = padded[top : top + kh, left : left + kw]
    products = window * kernel
    total = 0.0
    for value in products.ravel():  # the sum the seed draws by hand, one product at a time
        total += float(value)
    return ConvStep(row, col, top, left, window.copy(), products, total)


def conv_walk(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> ConvWalk:
    """Slide the kernel over the zero-padded image with explicit loops (cross-correlation, as torch)."""
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    check_fits(*image.shape, kernel, stride, padding)
    padded = np.pad(image, padding)
    rows = conv_out(image.shape[0], kernel.shape[0], stride, padding)
    cols = conv_out(image.shape[1], kernel.shape[1], stride, padding)
    output = np.empty((rows, cols), dtype=np.float32)
    for row in range(rows):
        for col in range(cols):
            output[row, col] = _step(padded, kernel, stride, row, col).total
    return ConvWalk(padded, kernel, stride, padding, output)


# ---------------------------------------------------------------- flip


@dataclass
class FlipComparison:
    kernel: np.ndarray
    flipped: np.ndarray
    correlation: np.ndarray  # torch's conv2d
    convolution: np.ndarray  # the textbook definition
    symmetric: bool  # kernel equals its 180° rotation, so both agree
    max_difference: float

    @property
    def difference(self) -> np.ndarray:
        """Cross-correlation minus convolution, position by position."""
        return self.correlation - self.convolution

    @property
    def antisymmetric(self) -> bool:
        """The rotation only changes the kernel's sign (Sobel, edge kernels): the two outputs are negatives."""
        return bool(self.kernel.any() and np.array_equal(self.flipped, -self.kernel))


def compare_flip(image: np.ndarray, kernel: np.ndarray, padding: int = 0) -> FlipComparison:
    kernel = np.asarray(kernel, dtype=np.float32)
    correlation = cross_correlate(image, kernel, padding=padding)
    convolution = convolve(image, kernel, padding=padding)
    flipped = flip(kernel)
    return FlipComparison(
        kernel,
        flipped,
        correlation,
        convolution,
        bool(np.array_equal(kernel, flipped)),
        float(np.abs(correlation - convolution).max()),
    )


def edge_demo_image(size: int = 24, low: float = 0.1, high: float = 0.9) -> np.ndarray:
    """A light square on a dark background: both light→dark and dark→light edges, both ways."""
    image = np.full((size, size), low, dtype=np.float32)
    a, b = size // 4, size - size // 4
    image[a:b, a:b] = high
    return image


@dataclass
class EdgeSigns:
    image: np.ndarray  # edge_demo_image
    kernel: np.ndarray
    response: np.ndarray  # cross-correlation, as torch computes it
    row: int  # the output row measured: through the middle of the square
    left_col: int  # output column of the strongest response on the square's left edge (dark → light)
    right_col: int  # and on its right edge (light → dark)
    left_value: float
    right_value: float


def edge_signs(size: int = 12, kernel: np.ndarray | None = None) -> EdgeSigns:
    """Run a kernel (default: the vertical edge kernel) over edge_demo_image and read the response
    on the middle row at the square's two sides: the strongest value in the left half and in the
    right half. With "edge_vertical" the left edge (dark → light) is negative and the right positive."""
    image = edge_demo_image(size)
    kernel = KERNELS["edge_vertical"] if kernel is None else np.asarray(kernel, dtype=np.float32)
    response = cross_correlate(image, kernel)
    row = response.shape[0] // 2
    line = response[row]
    half = max(1, (line.size + 1) // 2)
    left_col = int(np.argmax(np.abs(line[:half])))
    right_col = (line.size - half) + int(np.argmax(np.abs(line[line.size - half :])))
    return EdgeSigns(image, kernel, response, row, left_col, right_col, float(line[left_col]), float(line[right_col]))


# ---------------------------------------------------------------- kernels on a photo


@dataclass
class KernelResponse:
    channel_maps: np.ndarray  # (C, H', W'): the kernel on each channel alone
    total: np.ndarray  # (H', W'): what one conv2d filter with C input channels outputs
    all_zero: bool  # an all-zero kernel: every output is exactly 0

    @property
    def signed(self) -> bool:
        """Some outputs are negative: draw with a diverging scale centred on 0."""
        return bool(self.total.size and self.total.min() < 0)


def apply_kernel(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> KernelResponse:
    """One filter over a (C, H, W) image: the same 2-D kernel on every channel, summed over
    channels the way a conv layer's filter with C input channels is (its weight is C×kh×kw)."""
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    c, h, w = image.shape
    check_fits(h, w, kernel, stride, padding)
    x = to_tensor(image)[None]
    k = to_tensor(kernel)
    with torch.no_grad():
        per_channel = F.conv2d(x, k.expand(c, 1, *k.shape).contiguous(), stride=stride, padding=padding, groups=c)
        total = F.conv2d(x, k.expand(1, c, *k.shape).contiguous(), stride=stride, padding=padding)
    return KernelResponse(per_channel[0].numpy(), total[0, 0].numpy(), not bool(np.any(kernel)))
