"""The architecture spec: its layer schema, validation and normalisation, and SpecError.

A spec is a JSON-serialisable dict ``{"input_shape": [C, H, W], "num_classes": N,
"layers": [{"type": ..., ...}, ...]}`` or, for transfer learning, ``{"input_shape": ...,
"num_classes": N, "backbone": {"name": "resnet18", ...}}``. Keys use torch's own keyword
names and defaults; input channels and in_features are inferred, never written.
Torch-free, so the builder can validate on every keystroke.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from cnn_core.arch.blocks import CONCAT, MAX_BRANCHES, RESIDUAL, chain_lists
from cnn_core.arch.spec_text import bad_char, clip, show
from cnn_core.errors import CnnLabError
from cnn_core.i18n import t
from cnn_core.settings import get_settings

REQUIRED = object()


class SpecError(CnnLabError, ValueError):
    """An invalid spec, with the layer it concerns (layer_index: the top-level layer, the builder's
    row; label: an inner layer's, such as "4.2", see blocks.py), the reason and a fix."""

    def __init__(self, reason: str, fix: str = "", layer_index=None, layer_type=None, label: str | None = None):
        self.reason, self.fix = reason, fix
        self.layer_index, self.layer_type, self.label = layer_index, layer_type, label
        number = label or (layer_index + 1 if layer_index is not None else None)
        where = t("spec.where_spec") if number is None else t("spec.where_layer", number=number, type=layer_type or "?")
        super().__init__(f"{where}: {reason}" + (f" — {fix}" if fix else ""))


@dataclass(frozen=True)
class Field:
    """One keyword of a layer. kind: size | nonneg | padding | count | bool | prob | float |
    positive_float | choice | size_or_none | layers | branches (a block's, blocks.py)."""

    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple = ()


@dataclass(frozen=True)
class LayerType:
    name: str
    fields: tuple[Field, ...] = ()
    needs: str = "any"  # "spatial": a C×H×W map, "flat": a vector, "any": either
    help_key: str = ""
    field_names: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self):
        object.__setattr__(self, "field_names", tuple(f.name for f in self.fields))


def _conv_fields(transposed: bool) -> tuple[Field, ...]:
    padding = Field("padding", "nonneg", 0) if transposed else Field("padding", "padding", 0)
    extra = (Field("output_padding", "nonneg", 0),) if transposed else ()
    return (
        Field("out_channels", "count"),
        Field("kernel_size", "size"),
        Field("stride", "size", 1),
        padding,
        *extra,
        Field("dilation", "size", 1),
        Field("groups", "count", 1),
        Field("bias", "bool", True),
    )


def _pool_fields(with_dilation: bool) -> tuple[Field, ...]:
    extra = (Field("dilation", "size", 1),) if with_dilation else (Field("count_include_pad", "bool", True),)
    return (
        Field("kernel_size", "size"),
        Field("stride", "size_or_none", None),
        Field("padding", "nonneg", 0),
        *extra,
        Field("ceil_mode", "bool", False),
    )


_NORM_FIELDS = (Field("eps", "positive_float", 1e-5), Field("momentum", "prob", 0.1), Field("affine", "bool", True))

LAYER_TYPES: dict[str, LayerType] = {
    lt.name: lt
    for lt in [
        LayerType("conv2d", _conv_fields(False), "spatial", "layer.conv2d"),
        LayerType("conv_transpose2d", _conv_fields(True), "spatial", "layer.conv_transpose2d"),
        LayerType("batchnorm2d", _NORM_FIELDS, "spatial", "layer.batchnorm2d"),
        LayerType("batchnorm1d", _NORM_FIELDS, "flat", "layer.batchnorm1d"),
        # a flat vector only: on a map its statistics would mix every position (no receptive field left)
        LayerType(
            "layernorm",
            (Field("eps", "positive_float", 1e-5), Field("affine", "bool", True)),
            "flat",
            "layer.layernorm",
        ),
        LayerType("relu", (), "any", "layer.relu"),
        LayerType("leaky_relu", (Field("negative_slope", "float", 0.01),), "any", "layer.leaky_relu"),
        LayerType("elu", (Field("alpha", "positive_float", 1.0),), "any", "layer.elu"),
        LayerType("gelu", (Field("approximate", "choice", "none", ("none", "tanh")),), "any", "layer.gelu"),
        LayerType("sigmoid", (), "any", "layer.sigmoid"),
        LayerType("tanh", (), "any", "layer.tanh"),
        LayerType("softmax", (), "any", "layer.softmax"),
        LayerType("maxpool2d", _pool_fields(True), "spatial", "layer.maxpool2d"),
        LayerType("avgpool2d", _pool_fields(False), "spatial", "layer.avgpool2d"),
        LayerType("adaptive_avgpool2d", (Field("output_size", "size"),), "spatial", "layer.adaptive_avgpool2d"),
        LayerType("global_avgpool", (), "spatial", "layer.global_avgpool"),
        LayerType("global_maxpool", (), "spatial", "layer.global_maxpool"),
        LayerType("dropout", (Field("p", "prob", 0.5),), "any", "layer.dropout"),
        LayerType("dropout2d", (Field("p", "prob", 0.5),), "spatial", "layer.dropout2d"),
        LayerType("flatten", (), "any", "layer.flatten"),
        LayerType("linear", (Field("out_features", "count"), Field("bias", "bool", True)), "flat", "layer.linear"),
        LayerType(RESIDUAL, (Field("layers", "layers"), Field("projection", "bool", True)), "any", "layer.residual"),
        LayerType(CONCAT, (Field("branches", "branches"),), "any", "layer.concat"),
    ]
}

BACKBONES = ("resnet18", "mobilenet_v2")
BACKBONE_FIELDS = (
    Field("name", "choice", REQUIRED, BACKBONES),
    Field("pretrained", "bool", True),
    Field("freeze_backbone", "bool", True),
    Field("replace_head", "bool", True),
)
TOP_LEVEL_KEYS = ("input_shape", "num_classes", "layers", "backbone", "name", "description")
MAX_NESTING = 32  # deepest nesting of lists and objects in a spec (a real one has four levels)
_MAX_DIM = 2**31  # larger input_shape numbers are refused before any arithmetic or printing


def check_text(key: str, value: Any) -> str:
    """A spec's free text (name, description): text, within the length cap, every character
    printable (a description may have line breaks and tabs)."""
    if not isinstance(value, str):
        raise SpecError(t("spec.err.not_text", key=key), t("spec.fix.text"))
    limit = get_settings().max_spec_text_chars
    if len(value) > limit:
        raise SpecError(t("spec.err.text_long", key=key, n=len(value), limit=limit), t("spec.fix.text_long"))
    bad = bad_char(value, "\t\n\r" if key == "description" else "")
    if bad:
        raise SpecError(t("spec.err.text_char", key=key, code=bad), t("spec.fix.text_char"))
    return value


def _check_tree(value: Any) -> None:
    """Parsed JSON: nested at most MAX_NESTING deep, and no text anywhere (keys included) with a
    lone surrogate or a NUL, which could not be saved as UTF-8 JSON again."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise SpecError(t("spec.err.too_deep", most=MAX_NESTING), t("spec.fix.too_deep"))
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            bad = bad_char(item, "".join(chr(i) for i in range(1, 32)))
            if bad:
                raise SpecError(t("spec.err.bad_char", text=clip(item), code=bad), t("spec.fix.text_char"))


# ---------------------------------------------------------------- value checks


def _whole(value: Any) -> int | None:
    """An int, or a float with no fractional part; bools and everything else are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _bounded(value: Any, minimum: int, maximum: int, err) -> int:
    """A whole number in [minimum, maximum]; else `err`, the number shown without printing it whole."""
    number = _whole(value)
    if number is None:
        raise err(t("spec.err.not_whole", got=show(value)), t("spec.fix.whole"))
    if number < minimum:
        raise err(t("spec.err.too_small", got=show(number), minimum=minimum), t("spec.fix.at_least", minimum=minimum))
    if number > maximum:
        raise err(t("spec.err.too_big", got=show(number), maximum=maximum), t("spec.fix.at_most", maximum=maximum))
    return number


def _pair(value: Any, minimum: int, maximum: int, err) -> tuple[int, int]:
    items = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(items) != 2:
        raise err(t("spec.err.pair_len", got=show(value)), t("spec.fix.pair"))
    return _bounded(items[0], minimum, maximum, err), _bounded(items[1], minimum, maximum, err)


def _maximum(f: Field) -> int:
    """The largest value a whole-number field takes: sizes within the input side cap, widths
    within the channel cap, a linear layer's outputs within the feature cap (settings)."""
    settings = get_settings()
    if f.kind == "count":
        return settings.max_features if f.name == "out_features" else settings.max_channels
    return settings.max_input_side


def _check_value(f: Field, value: Any, err) -> Any:
    def named(reason, fix):
        return err(t("spec.err.key_value", key=f.name, reason=reason), fix)

    if f.kind in ("size", "nonneg", "size_or_none", "padding"):
        if f.kind == "size_or_none" and value is None:
            return None
        if f.kind == "padding" and isinstance(value, str):
            if value in ("valid", "same"):
                return value
            raise named(t("spec.err.padding_word", got=clip(value)), t("spec.fix.padding_word"))
        return _pair(value, 0 if f.kind in ("nonneg", "padding") else 1, _maximum(f), named)
    if f.kind == "count":
        return _bounded(value, 1, _maximum(f), named)
    if f.kind in ("layers", "branches"):  # the inner layers are checked where they are walked
        if not chain_lists(f.kind, value):
            raise named(t(f"spec.err.block_{f.kind}", most=MAX_BRANCHES), t(f"spec.fix.block_{f.kind}"))
        return value
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise named(t("spec.err.not_bool", got=show(value)), t("spec.fix.bool"))
        return value
    if f.kind == "choice":
        if value is None and "none" in f.choices:  # the typed word none parses to null
            value = "none"
        if value not in f.choices:
            raise named(t("spec.err.choice", got=show(value)), t("spec.fix.choice", choices=", ".join(f.choices)))
        return value
    # float kinds
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) > 1e300:
        raise named(t("spec.err.not_number", got=show(value)), t("spec.fix.number"))
    value = float(value)
    if f.kind == "prob" and not 0.0 <= value <= 1.0:
        raise named(t("spec.err.prob", got=value), t("spec.fix.prob"))
    if f.kind == "positive_float" and value <= 0:
        raise named(t("spec.err.positive", got=value), t("spec.fix.positive"))
    return value


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return t("spec.fix.did_you_mean", word=match[0]) if match else ""


def normalize_fields(fields: tuple[Field, ...], raw: dict, err, ignore=("type",)) -> dict:
    """Check keys and values against `fields`; fill in defaults; pairs become tuples."""
    names = [f.name for f in fields]
    for key in raw:
        if key in ignore:
            continue
        if key not in names:
            hint = _closest(str(key), names)
            allowed = ", ".join(names) if names else t("spec.none")
            raise err(t("spec.err.unknown_key", key=clip(str(key))), hint or t("spec.fix.allowed_keys", keys=allowed))
    out = {}
    for f in fields:
        if f.name not in raw:
            if f.default is REQUIRED:
                raise err(t("spec.err.missing_key", key=f.name), t("spec.fix.add_key", key=f.name))
            out[f.name] = _check_value(f, f.default, err)
        else:
            out[f.name] = _check_value(f, raw[f.name], err)
    return out


def normalize_layer(index: int, raw: Any, label: str | None = None) -> dict:
    """A layer with every key present and checked; raises SpecError naming the layer (top-level
    `index`, or an inner layer's `label`). A block's inner layers are left to the walk."""
    if not isinstance(raw, dict):
        got = type(raw).__name__
        raise SpecError(t("spec.err.layer_not_object", got=got), t("spec.fix.layer_object"), index, None, label)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        hint = _closest(str(kind), LAYER_TYPES) if isinstance(kind, str) else ""
        raise SpecError(
            t("spec.err.unknown_type", got=show(kind)),
            hint or t("spec.fix.types", types=", ".join(LAYER_TYPES)),
            index,
            kind if isinstance(kind, str) else "?",
            label,
        )

    def err(reason, fix=""):
        return SpecError(reason, fix, index, kind, label)

    layer = {"type": kind, **normalize_fields(LAYER_TYPES[kind].fields, raw, err)}
    if kind in ("maxpool2d", "avgpool2d") and layer["stride"] is None:
        layer["stride"] = layer["kernel_size"]
    return layer


def check_top_level(spec: Any) -> None:
    if not isinstance(spec, dict):
        raise SpecError(t("spec.err.not_object"), t("spec.fix.spec_object"))
    for key in spec:
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(
                t("spec.err.unknown_top_key", key=clip(str(key))),
                _closest(str(key), TOP_LEVEL_KEYS) or t("spec.fix.allowed_top_keys", keys=", ".join(TOP_LEVEL_KEYS)),
            )
    for key in ("name", "description"):
        if key in spec:
            check_text(key, spec[key])


def parse_input_shape(value: Any) -> tuple[int, int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise SpecError(t("spec.err.input_shape", got=show(value)), t("spec.fix.input_shape"))
    dims = [_whole(v) for v in value]
    if any(d is None or not 1 <= d <= _MAX_DIM for d in dims):
        raise SpecError(t("spec.err.input_shape", got=show(value)), t("spec.fix.input_shape"))
    return dims[0], dims[1], dims[2]


def parse_num_classes(spec: dict) -> int | None:
    if spec.get("num_classes") is None:
        return None
    n = _whole(spec["num_classes"])
    if n is None or n < 1:
        raise SpecError(t("spec.err.num_classes", got=show(spec["num_classes"])), t("spec.fix.num_classes"))
    return _bounded(
        n,
        1,
        get_settings().max_features,
        lambda reason, fix="": SpecError(t("spec.err.key_value", key="num_classes", reason=reason), fix),
    )


def normalize_backbone(spec: dict) -> dict:
    if "layers" in spec:
        raise SpecError(t("spec.err.backbone_and_layers"), t("spec.fix.backbone_and_layers"))
    raw = spec["backbone"]
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise SpecError(t("spec.err.backbone_object"), t("spec.fix.backbone_object"))
    return normalize_fields(BACKBONE_FIELDS, raw, lambda reason, fix="": SpecError(reason, fix), ignore=())


def is_backbone(spec: dict) -> bool:
    return isinstance(spec, dict) and "backbone" in spec


def parse_json(text: str, fix: str):
    """JSON text as Python values; a syntax error is a SpecError naming the line and column, and so
    is nesting too deep, a number with more digits than Python converts, or text that could not
    be saved again (_check_tree)."""
    value = _loads(text, fix)
    _check_tree(value)
    return value


def _loads(text: str, fix: str):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(t("spec.err.bad_json", line=exc.lineno, column=exc.colno, msg=exc.msg), fix) from exc
    except RecursionError as exc:
        raise SpecError(t("spec.err.too_deep", most=MAX_NESTING), t("spec.fix.too_deep")) from exc
    except ValueError as exc:  # an integer beyond sys.get_int_max_str_digits()
        raise SpecError(t("spec.err.number_too_long"), t("spec.fix.number_too_long")) from exc
    return value


def load_spec_json(text: str | bytes, max_bytes: int | None = None) -> dict:
    """Parse an uploaded or pasted spec; every failure is a SpecError with a readable reason."""
    limit = get_settings().max_spec_upload_bytes if max_bytes is None else max_bytes
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > limit:
        raise SpecError(t("spec.err.too_large", size=size, limit=limit), t("spec.fix.too_large"))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(t("spec.err.not_utf8"), t("spec.fix.json_file")) from exc
    spec = _loads(text, t("spec.fix.json_file"))
    check_top_level(spec)  # first: its messages name the key (name, description) at fault
    _check_tree(spec)
    return spec


def dump_spec_json(spec: dict) -> str:
    """The spec as UTF-8-safe JSON text; SpecError if it cannot be written as such."""
    try:
        text = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
        text.encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise SpecError(t("spec.err.cannot_save", reason=clip(str(exc))), t("spec.fix.cannot_save")) from exc
    return text
