"""Standalone PyTorch source code for a spec: the file a user downloads and runs on its own.

Every user string that reaches the source is escaped (the spec's name in the docstring) or checked
(the class name must be a plain identifier), so the file always compiles and running it does
nothing but define and check the network.
"""

from __future__ import annotations

import keyword
import re

from cnn_core.arch.backbones import export_backbone_code
from cnn_core.arch.blocks import BLOCK_TYPES, CONCAT, RESIDUAL
from cnn_core.arch.formatting import format_shape
from cnn_core.arch.model import projection_args, torch_layer_args
from cnn_core.arch.spec import SpecError, check_top_level, is_backbone, normalize_layer
from cnn_core.arch.spec_text import clip
from cnn_core.arch.summary import summarize
from cnn_core.i18n import t

_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _literal(value) -> str:
    return repr(tuple(value)) if isinstance(value, list) else repr(value)


def docstring_text(text: str) -> str:
    """text for the inside of a triple-quoted (non-raw) docstring: a backslash and a double quote
    are escaped, so no quote can close the string; anything unprintable (a line break, NUL, a lone
    surrogate) becomes its escape sequence, so the text stays on its line and the file encodes."""
    out = []
    for c in text:
        if c in '\\"':
            out.append("\\" + c)
        elif not c.isprintable():
            out.append(ascii(c)[1:-1])
        else:
            out.append(c)
    return "".join(out)


def _check_class_name(class_name) -> None:
    if (
        not isinstance(class_name, str)
        or not _CLASS_NAME.fullmatch(class_name)
        or keyword.iskeyword(class_name)
        or class_name in ("torch", "nn")
    ):
        shown = clip(class_name) if isinstance(class_name, str) else type(class_name).__name__
        raise SpecError(t("export.err.class_name", name=shown), t("export.fix.class_name"))


def _call(name: str, kwargs: dict) -> str:
    return f"nn.{name}(" + ", ".join(f"{k}={_literal(v)}" for k, v in kwargs.items()) + ")"


def _lines(rows: list, raws: list, pad: str) -> list[str]:
    """The source lines that build these layers (and, for a block, its inner layers), each ending
    in a comment with the layer's number and output shape."""
    lines = []
    for row, raw in zip(rows, raws):
        layer = normalize_layer(row.index, raw, row.label)
        comment = f"  # {row.number}: -> {format_shape(row.output_shape)}"
        if layer["type"] == RESIDUAL:
            lines += [f"{pad}Residual(", f"{pad}    nn.Sequential("]
            lines += _lines(row.chains[0], layer["layers"], pad + " " * 8) + [f"{pad}    ),"]
            if row.shortcut is not None:
                conv, norm = projection_args(row)
                shortcut = f"nn.Sequential({_call('Conv2d', conv)}, {_call('BatchNorm2d', norm)})"
                lines.append(f"{pad}    {shortcut},  # {row.shortcut.number}")
            lines.append(f"{pad}),{comment}")
        elif layer["type"] == CONCAT:
            lines.append(f"{pad}Concat([")
            for inner, branch in zip(row.chains, layer["branches"]):
                lines += [f"{pad}    nn.Sequential("] + _lines(inner, branch, pad + " " * 8) + [f"{pad}    ),"]
            lines.append(f"{pad}]),{comment}")
        elif layer["type"] in ("global_avgpool", "global_maxpool"):
            pool = "AdaptiveAvgPool2d" if layer["type"] == "global_avgpool" else "AdaptiveMaxPool2d"
            lines.append(f"{pad}nn.Sequential(nn.{pool}(1), nn.Flatten()),{comment}")
        else:
            lines.append(f"{pad}{_call(*torch_layer_args(layer, row.input_shape))},{comment}")
    return lines


def _residual_class() -> str:
    return f'''

class Residual(nn.Module):
    """{t("export.code.residual")}"""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.shortcut = shortcut
        self.body = body

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))
'''


def _concat_class() -> str:
    return f'''

class Concat(nn.Module):
    """{t("export.code.concat")}"""

    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)
'''


_BLOCK_CLASSES = {RESIDUAL: _residual_class, CONCAT: _concat_class}


def export_pytorch_code(spec: dict, class_name: str = "Net") -> str:
    """Standalone Python source defining the network, each layer's output shape in a comment."""
    _check_class_name(class_name)
    check_top_level(spec)  # the name and description are text of printable characters
    if is_backbone(spec):
        if "name" in spec:
            spec = {**spec, "name": docstring_text(spec["name"])}
        return export_backbone_code(spec, class_name)
    summary = summarize(spec)
    c, h, w = summary.input_shape
    lines = _lines(summary.rows, spec["layers"], " " * 12)
    kinds = {row.type for top in summary.rows for row in top.flattened()}
    classes = "".join(_BLOCK_CLASSES[kind]() for kind in BLOCK_TYPES if kind in kinds)
    title = docstring_text(spec.get("name", "network"))
    body = "\n".join(lines)
    header = t(
        "export.code.header",
        title=title,
        shape=f"{c}×{h}×{w}",
        params=f"{summary.total_params:,}",
        macs=f"{summary.total_macs:,}",
    )
    return f'''"""{header}
"""
import torch
from torch import nn
{classes}

class {class_name}(nn.Sequential):
    """{t("export.code.layers")}"""

    def __init__(self):
        super().__init__(
{body}
        )


if __name__ == "__main__":
    model = {class_name}()
    out = model(torch.zeros(2, {c}, {h}, {w}))
    print("output", tuple(out.shape[1:]), "parameters", sum(p.numel() for p in model.parameters()))
'''
