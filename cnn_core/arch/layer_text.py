"""The short text form of layers that people type: ``conv2d out_channels=32, kernel_size=3``.

Used by the builder's table (one cell of key=value pairs per layer) and the calculator's
chain editor (one layer per line). Parsing produces plain spec dicts; checking them is the
spec module's job.
"""

from __future__ import annotations

import json
import re

from cnn_core.arch.blocks import BLOCK_TYPES, block_template
from cnn_core.arch.spec import LAYER_TYPES, REQUIRED, SpecError, parse_json
from cnn_core.arch.spec_text import clip
from cnn_core.i18n import t

_PAIR = r"\(\s*[^)]*\)|\[\s*[^\]]*\]"
_TOKEN = re.compile(rf"\s*(\w+)\s*=\s*({_PAIR}|[^,\s]+)\s*(?:,|\s|$)")


_MAX_DIGITS = 30  # longer numbers are never valid values; int() of thousands of digits raises


def _value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if text[0] in "([":
        if text[-1] != {"(": ")", "[": "]"}[text[0]]:
            raise SpecError(t("spec.err.params_syntax", text=clip(text)), t("spec.fix.params_syntax"))
        inner = [part.strip() for part in text[1:-1].split(",") if part.strip()]
        return [_value(part) for part in inner]
    if sum(c.isdigit() for c in text) > _MAX_DIGITS:
        raise SpecError(t("spec.err.number_too_long"), t("spec.fix.number_too_long"))
    pair = re.fullmatch(r"(\d+)\s*[x×]\s*(\d+)", text)
    if pair:
        return [int(pair.group(1)), int(pair.group(2))]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_params(text: str) -> dict:
    """'out_channels=32, kernel_size=3x3, padding=same' → dict; SpecError on stray text. A block's
    keys are written as a JSON object: '{"layers": [{"type": "relu"}]}'."""
    params: dict = {}
    position = 0
    text = text.strip()
    if text.startswith("{"):
        params = parse_json(text, t("spec.fix.block_json"))
        if not isinstance(params, dict):
            raise SpecError(t("spec.err.params_syntax", text=clip(text)), t("spec.fix.block_json"))
        return params
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise SpecError(t("spec.err.params_syntax", text=clip(text[position:])), t("spec.fix.params_syntax"))
        params[match.group(1)] = _value(match.group(2))
        position = match.end()
    return params


def _format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        if len(value) == 2:
            return f"{value[0]}x{value[1]}" if value[0] != value[1] else _format_value(value[0])
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_default(f, value) -> bool:
    """Whether value is the field's default (a pair of equal values counts as the single default)."""
    default = f.default
    return default is not REQUIRED and (
        value == default or (isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1] == default)
    )


def format_params(layer: dict) -> str:
    """The non-default keys of a layer as 'key=value' text, required keys first; a block's as one
    JSON object (its inner layers nest), which parse_params reads back."""
    kind = LAYER_TYPES.get(layer.get("type"))
    if kind is None:
        return ", ".join(f"{k}={_format_value(v)}" for k, v in layer.items() if k != "type")
    present = [f for f in kind.fields if f.name in layer and not _is_default(f, layer[f.name])]
    if kind.name in BLOCK_TYPES:
        return json.dumps({f.name: layer[f.name] for f in present}, ensure_ascii=False, separators=(", ", ": "))
    return ", ".join(f"{f.name}={_format_value(layer[f.name])}" for f in present)


def format_chain(layers: list[dict]) -> str:
    """Layers as text, one per line: what parse_chain reads back (the builder's block editor)."""
    return "\n".join(f"{layer.get('type')} {format_params(layer)}".rstrip() for layer in layers)


def parse_layer_line(line: str) -> dict:
    """'conv2d out_channels=8, kernel_size=3' → {'type': 'conv2d', ...}."""
    kind, _, rest = line.strip().partition(" ")
    return {"type": kind.strip().rstrip(":,"), **parse_params(rest)}


def parse_chain(text: str) -> list[dict]:
    """One layer per line (blank lines and # comments ignored), or a JSON list of layers."""
    stripped = text.strip()
    if stripped.startswith("["):
        layers = parse_json(stripped, t("spec.fix.layers_list"))
        if not isinstance(layers, list):
            raise SpecError(t("spec.err.layers_list"), t("spec.fix.layers_list"))
        return layers
    layers = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            layers.append(parse_layer_line(line))
        except SpecError as exc:
            raise SpecError(t("spec.err.chain_line", line=number, reason=exc.reason), exc.fix) from exc
    return layers


def layers_to_rows(layers: list[dict]) -> list[dict]:
    """The builder table's rows: a layer type and its key=value text."""
    return [{"type": layer.get("type"), "params": format_params(layer)} for layer in layers]


def rows_to_layers(rows: list[dict]) -> list[dict]:
    """Back from table rows to spec layers; SpecError names the row that cannot be read. A block
    row without settings starts from its template (blocks.BLOCK_TEMPLATES), as the builder's
    insert does."""
    layers = []
    for index, row in enumerate(rows):
        kind = row.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise SpecError(t("spec.err.no_type"), t("spec.fix.no_type"), index, "?")
        text = row.get("params")
        try:
            params = parse_params(text if isinstance(text, str) else "")
        except SpecError as exc:
            raise SpecError(exc.reason, exc.fix, index, clip(kind)) from exc
        layers.append({"type": kind.strip(), **(params or block_template(kind.strip()))})
    return layers
