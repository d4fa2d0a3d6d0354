"""How architecture numbers are written for people: shapes, byte sizes, counts, the compact layer
label ('32 @ 3×3 s2 p1'), a layer's name as every page numbers it ('#4 conv2d') and the summary
table the builder and the calculator show.
"""

from __future__ import annotations

from cnn_core.arch.blocks import module_label
from cnn_core.arch.summary_types import all_rows
from cnn_core.i18n import t


def format_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def format_count(n: int) -> str:
    """A count short enough for a metric: 9,999,999 in full, then three figures and a unit (1.81 G);
    f"{n:,}" is the exact number."""
    if abs(n) < 10**7:
        return f"{n:,}"
    rounded = float(f"{n:.3g}")
    units = (("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18))
    unit, scale = next(((u, s) for u, s in units if abs(rounded) < s * 1000), units[-1])
    return f"{rounded / scale:.3g} {unit}"


def layer_label(module_name: str, kind: str) -> str:
    """A layer as the builder numbers it: module '3' of a spec network is '#4 conv2d' (from 1, like
    the builder's table, the summary and the error messages), module '3.body.1' inside a block is
    '#4.2 conv2d'; a backbone's module keeps its name."""
    label = module_label(module_name)
    return f"#{label} {kind}" if label is not None else f"{module_name} {kind}"


def _fmt(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def describe_layer(layer: dict) -> str:
    """A compact label such as '32 @ 3×3 s2 p1': numbers and PyTorch's names, a few words translated."""
    kind = layer["type"]
    if kind in ("conv2d", "conv_transpose2d"):
        k = layer["kernel_size"]
        text = f"{layer['out_channels']} @ {k[0]}×{k[1]}"
        if layer["stride"] != (1, 1):
            text += f" s{_fmt(layer['stride'])}"
        pad = layer["padding"]
        if isinstance(pad, str):
            text += f" {pad}"
        elif pad != (0, 0):
            text += f" p{_fmt(pad)}"
        if layer.get("output_padding", (0, 0)) != (0, 0):
            text += f" op{_fmt(layer['output_padding'])}"
        if layer["dilation"] != (1, 1):
            text += f" d{_fmt(layer['dilation'])}"
        if layer["groups"] != 1:
            text += f" g{layer['groups']}"
        return text + ("" if layer["bias"] else " " + t("layer.detail.no_bias"))
    if kind in ("maxpool2d", "avgpool2d"):
        k = layer["kernel_size"]
        text = f"{k[0]}×{k[1]} s{_fmt(layer['stride'])}"
        if layer["padding"] != (0, 0):
            text += f" p{_fmt(layer['padding'])}"
        if layer.get("dilation", (1, 1)) != (1, 1):
            text += f" d{_fmt(layer['dilation'])}"
        return text + (" " + t("layer.detail.ceil") if layer["ceil_mode"] else "")
    if kind == "adaptive_avgpool2d":
        return f"→ {layer['output_size'][0]}×{layer['output_size'][1]}"
    if kind == "linear":
        return f"{layer['out_features']}" + ("" if layer["bias"] else " " + t("layer.detail.no_bias"))
    if kind in ("dropout", "dropout2d"):
        return f"p={layer['p']:g}"
    if kind == "leaky_relu":
        return t("layer.detail.slope", slope=f"{layer['negative_slope']:g}")
    if kind == "elu":
        return f"alpha={layer['alpha']:g}"
    if kind == "gelu" and layer["approximate"] != "none":
        return "tanh"
    return ""


def _pair_text(pair) -> str:
    if pair is None:
        return "—"
    a, b = (f"{v:g}" for v in pair)
    return a if a == b else f"{a}×{b}"


def summary_table(summary) -> list[dict]:
    """One dict per layer of a cnn_core.arch.summary.Summary, with translated column names, ready
    for a DataFrame. (Not annotated: the summary module imports this one for describe_layer.)"""
    return [
        {
            t("col.number"): r.number,
            t("col.layer"): r.type,
            t("col.details"): r.description,
            t("col.output"): format_shape(r.output_shape),
            t("col.params"): r.params,
            t("col.macs"): r.macs,
            t("col.memory"): format_bytes(r.activation_bytes),
            t("col.rf"): _pair_text(r.receptive_field),
            t("col.jump"): _pair_text(r.jump),
        }
        for r in all_rows(summary)
    ]
