"""How architecture numbers are written for people: shapes, byte sizes, the compact layer label
('32 @ 3×3 s2 p1') and the summary table the builder and the calculator show.
"""

from __future__ import annotations

from cnn_core.i18n import t


def format_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _fmt(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def describe_layer(layer: dict) -> str:
    """A compact, language-neutral label such as '32 @ 3×3 s2 p1'."""
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
        return text + ("" if layer["bias"] else " no-bias")
    if kind in ("maxpool2d", "avgpool2d"):
        k = layer["kernel_size"]
        text = f"{k[0]}×{k[1]} s{_fmt(layer['stride'])}"
        if layer["padding"] != (0, 0):
            text += f" p{_fmt(layer['padding'])}"
        if layer.get("dilation", (1, 1)) != (1, 1):
            text += f" d{_fmt(layer['dilation'])}"
        return text + (" ceil" if layer["ceil_mode"] else "")
    if kind == "adaptive_avgpool2d":
        return f"→ {layer['output_size'][0]}×{layer['output_size'][1]}"
    if kind == "linear":
        return f"{layer['out_features']}" + ("" if layer["bias"] else " no-bias")
    if kind in ("dropout", "dropout2d"):
        return f"p={layer['p']:g}"
    if kind == "leaky_relu":
        return f"slope={layer['negative_slope']:g}"
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
            t("col.number"): r.index + 1,
            t("col.layer"): r.type,
            t("col.details"): r.description,
            t("col.output"): format_shape(r.output_shape),
            t("col.params"): r.params,
            t("col.macs"): r.macs,
            t("col.memory"): format_bytes(r.activation_bytes),
            t("col.rf"): _pair_text(r.receptive_field),
            t("col.jump"): _pair_text(r.jump),
        }
        for r in summary.rows
    ]
