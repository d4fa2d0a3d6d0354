"""What a summary is made of: one LayerSummary per layer, the Summary with its totals, and the
receptive-field bookkeeping. Its own module so that shape inference (cnn_core.arch.summary) and
the backbones' hook-based summary (cnn_core.arch.backbones) share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    label: str = ""  # "4", or an inner layer's "4.2" / "5[3].1" (cnn_core.arch.blocks); "" for a backbone's
    # A block's rows: one chain of inner rows (residual) or one per branch (concat), and its projection.
    chains: list[list[LayerSummary]] = field(default_factory=list)
    shortcut: LayerSummary | None = None

    @property
    def number(self) -> str:
        """How the builder, the summary and the messages number this layer."""
        return self.label or str(self.index + 1)

    def flattened(self) -> list[LayerSummary]:
        """This row and, for a block, every row inside it, depth first, its projection last."""
        rows = [self]
        for chain in self.chains:
            for row in chain:
                rows.extend(row.flattened())
        return rows + ([self.shortcut] if self.shortcut else [])


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

    @classmethod
    def of(cls, row: LayerSummary) -> ReceptiveField | None:
        return cls(row.receptive_field, row.jump, row.start) if row.receptive_field is not None else None

    @staticmethod
    def hull(fields: list[ReceptiveField]) -> ReceptiveField:
        """The field that covers several paths' fields (a block's branches, or its body and its
        shortcut): the smallest interval holding them all on each axis, with the first one's jump."""
        lows = [tuple(f.start[a] - (f.rf[a] - 1) / 2 for a in range(2)) for f in fields]
        highs = [tuple(f.start[a] + (f.rf[a] - 1) / 2 for a in range(2)) for f in fields]
        low = tuple(min(x[a] for x in lows) for a in range(2))
        high = tuple(max(x[a] for x in highs) for a in range(2))
        rf = tuple(int(round(high[a] - low[a])) + 1 for a in range(2))
        return ReceptiveField(rf, fields[0].jump, tuple((low[a] + high[a]) / 2 for a in range(2)))

    def through(self, kernel, stride, pad_before) -> ReceptiveField:
        rf = tuple(int(self.rf[a] + (kernel[a] - 1) * self.jump[a]) for a in range(2))
        start = tuple(self.start[a] + ((kernel[a] - 1) / 2 - pad_before[a]) * self.jump[a] for a in range(2))
        jump = tuple(self.jump[a] * stride[a] for a in range(2))
        return ReceptiveField(rf, jump, start)


def all_rows(summary: Summary) -> list[LayerSummary]:
    """Every row of a summary, blocks' inner rows after their block's (the builder's table)."""
    return [row for top in summary.rows for row in top.flattened()]


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
