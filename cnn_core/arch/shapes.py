"""Output-size arithmetic of convolution and pooling, exactly as PyTorch computes it.

Torch-free on purpose: the calculator, the spec validator and the builder use it to predict
shapes and to explain errors before any tensor exists. Every formula here is checked against
torch's own layers by the property test in tests/test_shape_property.py.
"""

from __future__ import annotations

from dataclasses import dataclass


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: the taps sit `dilation` apart."""
    return dilation * (kernel - 1) + 1


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Padding torch adds for padding='same' (stride 1): (before, after); extra goes after."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def keras_same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """Padding Keras / TensorFlow add for padding='same' at any stride, so that the output has
    ceil(size / stride) cells: (before, after), the odd one after (bottom, right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def conv_padding(layer: dict) -> tuple[tuple[int, int], tuple[int, int]]:
    """The (before, after) padding of a normalised conv2d layer on each axis (height, width),
    whichever way it was given: 'same', 'valid' or numbers."""
    pad = layer["padding"]
    if pad == "same":
        return tuple(same_padding(k, d) for k, d in zip(layer["kernel_size"], layer["dilation"]))
    if pad == "valid":
        return (0, 0), (0, 0)
    return (pad[0], pad[0]), (pad[1], pad[1])


def conv_out(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, pad_after: int | None = None
) -> int:
    """floor((size + pad_before + pad_after - dilation·(kernel-1) - 1) / stride) + 1.

    May return a value < 1: the caller decides how to report an impossible layer.
    """
    after = padding if pad_after is None else pad_after
    span = size + padding + after - effective_kernel(kernel, dilation)
    return span // stride + 1 if span >= 0 else 0


def conv_remainder(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, pad_after: int | None = None
) -> int:
    """Padded rows (or columns) at the far edge that no window reaches because of the floor."""
    after = padding if pad_after is None else pad_after
    span = size + padding + after - effective_kernel(kernel, dilation)
    return span % stride if span >= 0 else 0


def conv_transpose_out(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, output_padding: int = 0
) -> int:
    """(size-1)·stride - 2·padding + dilation·(kernel-1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_out(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1, ceil_mode: bool = False) -> int:
    """torch's pooling_output_shape, including its ceil_mode rule.

    With ceil_mode a last, partial window is kept, unless it would start inside the right
    padding only: torch then drops it so every window touches at least one real pixel.
    """
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1  # Python's floor division rounds toward -inf, like div_rtn
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """[start, end) of each bin of adaptive pooling, as torch's start_index / end_index."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


@dataclass(frozen=True)
class AxisGeometry:
    """How one spatial axis of a sliding-window layer maps output positions to input cells.

    Coordinates are in the padded frame: index 0 is the first padding cell, real input cells
    are [pad_before, pad_before + size).
    """

    size: int
    kernel: int
    stride: int
    pad_before: int
    pad_after: int
    dilation: int
    out: int

    @property
    def padded(self) -> int:
        return self.pad_before + self.size + self.pad_after

    def taps(self, position: int) -> list[int]:
        """Padded-frame indices read by output `position`, clipped to the padded frame."""
        start = position * self.stride
        return [start + k * self.dilation for k in range(self.kernel) if start + k * self.dilation < self.padded]

    def reached(self) -> set[int]:
        cells: set[int] = set()
        for position in range(self.out):
            cells.update(self.taps(position))
        return cells


def conv_axis(size: int, kernel: int, stride: int, padding: int | tuple[int, int], dilation: int = 1) -> AxisGeometry:
    before, after = (padding, padding) if isinstance(padding, int) else padding
    out = conv_out(size, kernel, stride, before, dilation, pad_after=after)
    return AxisGeometry(size, kernel, stride, before, after, dilation, max(out, 0))


def pool_axis(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> AxisGeometry:
    out = pool_out(size, kernel, stride, padding, dilation, ceil_mode)
    # A ceil_mode window may run past the right padding; torch clips it, and so do we.
    needed = (max(out, 1) - 1) * stride + effective_kernel(kernel, dilation)
    after = max(padding, needed - size - padding)
    return AxisGeometry(size, kernel, stride, padding, after, dilation, max(out, 0))


def transpose_axis(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, output_padding: int = 0
) -> tuple[AxisGeometry, list[int]]:
    """A transposed convolution as a stride-1 convolution over a zero-stuffed input.

    Returns the geometry over the stuffed frame and the stuffed-frame indices that hold real
    input values; every other cell is an inserted zero or padding. Valid when
    dilation·(kernel-1) >= padding, which covers the cases the calculator teaches.
    """
    edge = dilation * (kernel - 1) - padding
    stuffed = (size - 1) * stride + 1
    real = [edge + i * stride for i in range(size)]
    out = conv_transpose_out(size, kernel, stride, padding, dilation, output_padding)
    geometry = AxisGeometry(stuffed, kernel, 1, edge, edge + output_padding, dilation, max(out, 0))
    return geometry, real
