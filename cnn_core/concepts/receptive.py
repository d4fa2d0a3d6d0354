"""Receptive fields: which input pixels one unit of a deep layer can see, from the spec's
summary (field size, jump and start per layer, computed without torch)."""

from __future__ import annotations

from dataclasses import dataclass

from cnn_core.arch.summary import summarize
from cnn_core.arch.summary_types import LayerSummary
from cnn_core.concepts import ConceptError
from cnn_core.i18n import t

FIELD_FORMULA = r"r_l = r_{l-1} + (k_l - 1)\, j_{l-1} \qquad j_l = j_{l-1}\, s_l \qquad r_0 = j_0 = 1"  # in LaTeX


@dataclass
class Region:
    layer_index: int
    unit: tuple[int, int]  # (row, col) in the layer's output map
    field: tuple[int, int]  # receptive field size (h, w)
    jump: tuple[float, float]  # input pixels between neighbouring units
    top: int  # the field's extent in input pixels, inclusive; it may reach into the padding
    left: int
    bottom: int
    right: int
    input_size: tuple[int, int]

    @property
    def visible(self) -> tuple[int, int, int, int]:
        """The part of the field inside the image: (top, left, bottom, right), inclusive."""
        h, w = self.input_size
        return max(self.top, 0), max(self.left, 0), min(self.bottom, h - 1), min(self.right, w - 1)

    @property
    def clipped(self) -> bool:
        """The field reaches past the image's edge (into padding, or beyond what the input has)."""
        h, w = self.input_size
        return self.top < 0 or self.left < 0 or self.bottom >= h or self.right >= w

    @property
    def visible_share(self) -> float:
        """Share of the field that lies inside the image."""
        top, left, bottom, right = self.visible
        return (bottom - top + 1) * (right - left + 1) / (self.field[0] * self.field[1])

    @property
    def coverage(self) -> float:
        """Share of the image this unit can see."""
        top, left, bottom, right = self.visible
        h, w = self.input_size
        return (bottom - top + 1) * (right - left + 1) / (h * w)


def spatial_layers(spec: dict) -> list[LayerSummary]:
    """The layers whose output is still a (C, H, W) map with a known receptive field."""
    return [r for r in summarize(spec).rows if len(r.output_shape) == 3 and r.receptive_field is not None]


def unit_region(spec: dict, layer_index: int, row: int, col: int) -> Region:
    rows = {r.index: r for r in spatial_layers(spec)}
    if layer_index not in rows:
        raise ConceptError(t("concept.err.rf_layer", number=layer_index + 1))
    layer = rows[layer_index]
    _, out_h, out_w = layer.output_shape
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ConceptError(t("concept.err.position", row=row, col=col, rows=out_h, cols=out_w))
    (fh, fw), (jh, jw), (sh, sw) = layer.receptive_field, layer.jump, layer.start
    centre_y, centre_x = sh + row * jh, sw + col * jw
    top, left = round(centre_y - (fh - 1) / 2), round(centre_x - (fw - 1) / 2)
    _, h, w = spec["input_shape"]
    return Region(layer_index, (row, col), (fh, fw), (jh, jw), top, left, top + fh - 1, left + fw - 1, (h, w))
