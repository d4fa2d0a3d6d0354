"""What a summary is made of: one LayerSummary per layer, the Summary with its totals, and the
receptive-field bookkeeping. Its own module so that shape inference (cnn_core.arch.summary) and
the backbones' hook-based summary (cnn_core.arch.backbones) share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

BYTES_PER_VALUE = 4  # float32 activations


@dataclass
class LayerSummary:
    index: int  # 0-based position in spec["layers"]; messages show index + 1
    type: str
    description: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int
    activation_bytes: int
    receptive_field: tuple[int, int] | None = None
    jump: tuple[float, float] | None = None
    start: tuple[float, float] | None = None  # input-pixel centre of output unit (0, 0)'s field


@dataclass
class Summary:
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    rows: list[LayerSummary]
    total_params: int
    trainable_params: int
    total_macs: int
    activation_bytes: int  # all layer outputs of one image, float32


@dataclass
class ReceptiveField:
    """Receptive-field state along both axes, in input pixels."""

    rf: tuple[int, int] = (1, 1)
    jump: tuple[float, float] = (1.0, 1.0)
    start: tuple[float, float] = (0.0, 0.0)

    def through(self, kernel, stride, pad_before) -> ReceptiveField:
        rf = tuple(int(self.rf[a] + (kernel[a] - 1) * self.jump[a]) for a in range(2))
        start = tuple(self.start[a] + ((kernel[a] - 1) / 2 - pad_before[a]) * self.jump[a] for a in range(2))
        jump = tuple(self.jump[a] * stride[a] for a in range(2))
        return ReceptiveField(rf, jump, start)


def totals(input_shape, rows: list[LayerSummary]) -> Summary:
    return Summary(
        input_shape=tuple(input_shape),
        output_shape=rows[-1].output_shape if rows else tuple(input_shape),
        rows=rows,
        total_params=sum(r.params for r in rows),
        trainable_params=sum(r.trainable_params for r in rows),
        total_macs=sum(r.macs for r in rows),
        activation_bytes=sum(r.activation_bytes for r in rows),
    )
