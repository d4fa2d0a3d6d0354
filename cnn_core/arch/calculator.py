"""The one-layer shape calculator: output size with the formula filled in, what the floor
drops, and the sliding-window picture (which input cells each output position reads).

Validation goes through the same spec code as the builder, so a setting the calculator
accepts is exactly one that PyTorch accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnn_core.arch import shapes
from cnn_core.arch.spec import SpecError, normalize_layer, parse_input_shape
from cnn_core.arch.spec_text import clip, show
from cnn_core.arch.summary import summarize_until_error
from cnn_core.i18n import t
from cnn_core.settings import get_settings

KINDS = ("conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d")
KERAS_SAME = "same_keras"  # Keras / TensorFlow's 'same' (any stride), a convolution's padding here only

# Cell roles in the window picture.
INPUT, PADDING, INSERTED_ZERO, UNREAD = 0, 1, 2, 3


@dataclass
class LayerQuery:
    kind: str = "conv2d"
    height: int = 5
    width: int = 5
    channels: int = 1
    out_channels: int = 1
    kernel: int = 3
    stride: int = 1
    padding: int | str = 0
    dilation: int = 1
    ceil_mode: bool = False
    output_padding: int = 0

    def keras_padding(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Keras' (before, after) padding on each axis when the padding is KERAS_SAME, else None;
        raises SpecError for sizes or a layer the spec would refuse (checked first)."""
        if self.padding != KERAS_SAME:
            return None
        _, height, width = parse_input_shape([self.channels, self.height, self.width])
        layer = normalize_layer(0, self.layer())
        return tuple(
            shapes.keras_same_padding(size, k, s, d)
            for size, k, s, d in zip((height, width), layer["kernel_size"], layer["stride"], layer["dilation"])
        )

    def layer(self) -> dict:
        # Keras pads unevenly, which a PyTorch layer cannot: its layer reads an input padded beforehand
        padding = 0 if self.padding == KERAS_SAME else self.padding
        layer: dict = {"type": self.kind, "kernel_size": self.kernel, "stride": self.stride, "padding": padding}
        if self.kind in ("conv2d", "conv_transpose2d"):
            layer.update(out_channels=self.out_channels, dilation=self.dilation)
        if self.kind == "conv_transpose2d":
            layer["output_padding"] = self.output_padding
        if self.kind == "maxpool2d":
            layer["dilation"] = self.dilation
        if self.kind in ("maxpool2d", "avgpool2d"):
            layer["ceil_mode"] = self.ceil_mode
        return layer

    def spec(self) -> dict:
        """The one-layer spec; with Keras' padding, the layer reads the input padded beforehand."""
        height, width = self.height, self.width
        if (keras := self.keras_padding()) is not None:
            (top, bottom), (left, right) = keras
            height, width = int(height) + top + bottom, int(width) + left + right
        return {"input_shape": [self.channels, height, width], "layers": [self.layer()]}


@dataclass
class AxisExplanation:
    formula: str  # the general formula
    filled: str  # with the user's numbers
    size: int
    dropped: int  # padded rows/columns never read because of the floor
    note: str = ""


@dataclass
class CalculatorResult:
    query: LayerQuery
    output_shape: tuple[int, int, int] | None
    params: int = 0
    macs: int = 0
    error: SpecError | None = None
    axes: list[AxisExplanation] = field(default_factory=list)


def _conv_axis(size, k, s, p_before, p_after, d) -> AxisExplanation:
    span = size + p_before + p_after - d * (k - 1) - 1
    out = shapes.conv_out(size, k, s, p_before, d, pad_after=p_after)
    pad_text = f"2·{p_before}" if p_before == p_after else f"{p_before} + {p_after}"
    filled = f"⌊({size} + {pad_text} − {d}·({k}−1) − 1) / {s}⌋ + 1 = ⌊{span} / {s}⌋ + 1 = {out}"
    dropped = shapes.conv_remainder(size, k, s, p_before, d, pad_after=p_after)
    note = t("calc.dropped", n=int(dropped), span=span, s=s) if dropped else t("calc.exact")
    return AxisExplanation("⌊(n + 2p − d·(k−1) − 1) / s⌋ + 1", filled, out, dropped, note)


def _keras_axis(size, k, s, before, after, d) -> AxisExplanation:
    out = shapes.conv_out(size, k, s, before, d, pad_after=after)
    filled = f"⌈{size} / {s}⌉ = {out}"
    note = t("calc.keras_same_note", before=before, after=after, total=before + after)
    return AxisExplanation("⌈n / s⌉", filled, out, 0, note)


def _pool_axis(size, k, s, p, d, ceil_mode) -> AxisExplanation:
    span = size + 2 * p - d * (k - 1) - 1
    out = shapes.pool_out(size, k, s, p, d, ceil_mode)
    if not ceil_mode:
        axis = _conv_axis(size, k, s, p, p, d)
        return axis
    raw = -(-span // s) + 1
    filled = f"⌈({size} + 2·{p} − {d}·({k}−1) − 1) / {s}⌉ + 1 = ⌈{span} / {s}⌉ + 1 = {raw}"
    note = t("calc.ceil_kept") if span % s else t("calc.exact")
    if raw != out:
        filled += f" → {out}"
        note = t("calc.ceil_dropped")
    return AxisExplanation("⌈(n + 2p − d·(k−1) − 1) / s⌉ + 1", filled, out, 0, note)


def _transpose_axis(size, k, s, p, d, op) -> AxisExplanation:
    out = shapes.conv_transpose_out(size, k, s, p, d, op)
    filled = f"({size}−1)·{s} − 2·{p} + {d}·({k}−1) + {op} + 1 = {out}"
    return AxisExplanation("(n−1)·s − 2p + d·(k−1) + output_padding + 1", filled, out, 0, t("calc.transpose_note"))


def calculate(query: LayerQuery) -> CalculatorResult:
    """Output size and explanation; an invalid query comes back with `error` set, never raised."""
    if query.kind not in KINDS:
        kind = clip(query.kind) if isinstance(query.kind, str) else show(query.kind)
        return CalculatorResult(query, None, error=SpecError(t("calc.err.kind", kind=kind)))
    if query.padding == KERAS_SAME and query.kind != "conv2d":
        return CalculatorResult(query, None, error=SpecError(t("calc.err.keras_same_kind")))
    try:
        query.keras_padding()  # with Keras' 'same', the sizes and the layer are checked here first
    except SpecError as exc:
        return CalculatorResult(query, None, error=exc)
    # arithmetic only, nothing is built: no parameter or memory budget (the picture has its own cap)
    summary, error = summarize_until_error(query.spec(), check_output=False, check_budget=False)
    if error is not None:
        return CalculatorResult(query, None, error=error)
    row = summary.rows[0]
    layer = normalize_layer(0, query.layer())
    axes = []
    keras = query.keras_padding()
    for a, size in enumerate(row.input_shape[1:]):  # whole numbers, even when typed as 8.0
        k, s = layer["kernel_size"][a], layer["stride"][a]
        if keras is not None:
            before, after = keras[a]
            axes.append(_keras_axis(size - before - after, k, s, before, after, layer["dilation"][a]))
        elif query.kind == "conv2d":
            before, after = shapes.conv_padding(layer)[a]
            axes.append(_conv_axis(size, k, s, before, after, layer["dilation"][a]))
        elif query.kind == "conv_transpose2d":
            axes.append(
                _transpose_axis(size, k, s, layer["padding"][a], layer["dilation"][a], layer["output_padding"][a])
            )
        else:
            d = layer.get("dilation", (1, 1))[a]
            axes.append(_pool_axis(size, k, s, layer["padding"][a], d, layer["ceil_mode"]))
    return CalculatorResult(query, row.output_shape, row.params, row.macs, None, axes)


@dataclass
class WindowPicture:
    """Cell roles over the frame the window slides on, and the cells one output reads."""

    roles: list[list[int]]
    highlight: list[tuple[int, int]]
    out_h: int
    out_w: int
    frame_note: str


def _axes(query: LayerQuery):
    layer = normalize_layer(0, query.layer())
    geoms, reals = [], []
    for a, size in enumerate((int(query.height), int(query.width))):  # checked whole numbers (calculate)
        k, s = layer["kernel_size"][a], layer["stride"][a]
        d = layer.get("dilation", (1, 1))[a]
        if query.kind == "conv2d":
            keras = query.keras_padding()
            g = shapes.conv_axis(size, k, s, keras[a] if keras else shapes.conv_padding(layer)[a], d)
            geoms.append(g)
            reals.append(list(range(g.pad_before, g.pad_before + size)))
        elif query.kind == "conv_transpose2d":
            g, real = shapes.transpose_axis(size, k, s, layer["padding"][a], d, layer["output_padding"][a])
            geoms.append(g)
            reals.append(real)
        else:
            g = shapes.pool_axis(size, k, s, layer["padding"][a], d, layer["ceil_mode"])
            geoms.append(g)
            reals.append(list(range(g.pad_before, g.pad_before + size)))
    return geoms, reals


def window_picture(query: LayerQuery, out_row: int, out_col: int) -> WindowPicture:
    """The sliding window for output position (out_row, out_col); raises SpecError if invalid or
    if its frame has more cells than the settings' max_picture_cells (the most that are drawn)."""
    result = calculate(query)
    if result.error is not None:
        raise result.error
    if query.kind == "conv_transpose2d":
        layer = normalize_layer(0, query.layer())
        for a in range(2):
            if layer["padding"][a] > layer["dilation"][a] * (layer["kernel_size"][a] - 1):
                raise SpecError(t("calc.err.transpose_picture"))
    (gh, gw), (real_h, real_w) = _axes(query)
    cells, cap = gh.padded * gw.padded, get_settings().max_picture_cells
    if cells > cap:  # counted before any cell is built: a 4096×4096 input would make 16.8 M of them
        raise SpecError(t("viz.too_many_cells", n=f"{cells:,}", cap=f"{cap:,}"))
    reached_h, reached_w = gh.reached(), gw.reached()
    real_h_set, real_w_set = set(real_h), set(real_w)
    roles = []
    for i in range(gh.padded):
        row = []
        for j in range(gw.padded):
            inside_h = gh.pad_before <= i < gh.pad_before + gh.size
            inside_w = gw.pad_before <= j < gw.pad_before + gw.size
            if not (inside_h and inside_w):
                role = PADDING
            elif i not in real_h_set or j not in real_w_set:
                role = INSERTED_ZERO
            else:
                role = INPUT
            if i not in reached_h or j not in reached_w:
                role = UNREAD if role != INSERTED_ZERO else role
            row.append(role)
        roles.append(row)
    out_row = min(max(out_row, 0), gh.out - 1)
    out_col = min(max(out_col, 0), gw.out - 1)
    highlight = [(i, j) for i in gh.taps(out_row) for j in gw.taps(out_col)]
    note = t("calc.frame_transpose") if query.kind == "conv_transpose2d" else t("calc.frame_padded")
    return WindowPicture(roles, highlight, gh.out, gw.out, note)
