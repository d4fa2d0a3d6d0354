"""Turning a validated spec into torch modules.

Each spec layer becomes exactly one module of an nn.Sequential, so module index i is spec
layer i: inspection tools can hook "layer 3" without a lookup table. A block's inner layers are
numbered the same way inside it: "3.body.1" is layer 4's second inner layer (cnn_core.arch.blocks).
"""

from __future__ import annotations

import torch
from torch import nn

from cnn_core.arch.backbones import build_backbone
from cnn_core.arch.blocks import CONCAT, RESIDUAL, projection_stride
from cnn_core.arch.spec import is_backbone, normalize_layer
from cnn_core.arch.summary import summarize
from cnn_core.arch.summary_types import LayerSummary


class GlobalPool2d(nn.Module):
    """Global average or max pooling straight to a flat (N, C) tensor."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) if self.mode == "avg" else x.amax(dim=(2, 3))

    def extra_repr(self) -> str:
        return self.mode


class Residual(nn.Module):
    """Inner layers plus the input: body(x) + x, or body(x) + shortcut(x) where a 1×1 projection
    brings x to the body's shape. The shortcut is registered first, so the last convolution in the
    module order is the body's (Grad-CAM's default layer)."""

    def __init__(self, body: nn.Sequential, shortcut: nn.Module | None = None):
        super().__init__()
        self.shortcut = shortcut
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class Concat(nn.Module):
    """Branches on the same input, their outputs stacked along channels (GoogLeNet's inception)."""

    def __init__(self, branches: list[nn.Sequential]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def projection_args(row: LayerSummary) -> tuple[dict, dict]:
    """Keyword arguments of a residual block's projection: its Conv2d and its BatchNorm2d."""
    (c, h, w), (oc, oh, ow) = row.input_shape, row.output_shape
    stride = (projection_stride(h, oh), projection_stride(w, ow))
    return dict(in_channels=c, out_channels=oc, kernel_size=1, stride=stride, bias=False), dict(num_features=oc)


def _padding(value):
    return value if isinstance(value, str) else tuple(value)


def torch_layer_args(layer: dict, in_shape: tuple[int, ...]) -> tuple[str, dict]:
    """torch class name and keyword arguments for one normalised layer."""
    kind = layer["type"]
    if kind in ("conv2d", "conv_transpose2d"):
        args = dict(in_channels=in_shape[0], out_channels=layer["out_channels"])
        args.update({key: tuple(layer[key]) for key in ("kernel_size", "stride")})
        args["padding"] = _padding(layer["padding"])
        if kind == "conv_transpose2d":
            args["output_padding"] = tuple(layer["output_padding"])
        args.update(dilation=tuple(layer["dilation"]), groups=layer["groups"], bias=layer["bias"])
        return ("Conv2d" if kind == "conv2d" else "ConvTranspose2d"), args
    if kind in ("batchnorm2d", "batchnorm1d"):
        return ("BatchNorm2d" if kind == "batchnorm2d" else "BatchNorm1d"), dict(
            num_features=in_shape[0], eps=layer["eps"], momentum=layer["momentum"], affine=layer["affine"]
        )
    if kind == "layernorm":
        return "LayerNorm", dict(normalized_shape=tuple(in_shape), eps=layer["eps"], elementwise_affine=layer["affine"])
    if kind == "maxpool2d":
        return "MaxPool2d", dict(
            kernel_size=tuple(layer["kernel_size"]),
            stride=tuple(layer["stride"]),
            padding=tuple(layer["padding"]),
            dilation=tuple(layer["dilation"]),
            ceil_mode=layer["ceil_mode"],
        )
    if kind == "avgpool2d":
        return "AvgPool2d", dict(
            kernel_size=tuple(layer["kernel_size"]),
            stride=tuple(layer["stride"]),
            padding=tuple(layer["padding"]),
            ceil_mode=layer["ceil_mode"],
            count_include_pad=layer["count_include_pad"],
        )
    if kind == "adaptive_avgpool2d":
        return "AdaptiveAvgPool2d", dict(output_size=tuple(layer["output_size"]))
    if kind == "linear":
        return "Linear", dict(in_features=in_shape[0], out_features=layer["out_features"], bias=layer["bias"])
    simple = {
        "relu": ("ReLU", {}),
        "sigmoid": ("Sigmoid", {}),
        "tanh": ("Tanh", {}),
        "softmax": ("Softmax", {"dim": 1}),
        "flatten": ("Flatten", {}),
        "leaky_relu": ("LeakyReLU", {"negative_slope": layer.get("negative_slope")}),
        "elu": ("ELU", {"alpha": layer.get("alpha")}),
        "gelu": ("GELU", {"approximate": layer.get("approximate")}),
        "dropout": ("Dropout", {"p": layer.get("p")}),
        "dropout2d": ("Dropout2d", {"p": layer.get("p")}),
    }
    return simple[kind]


def _module(layer: dict, in_shape: tuple[int, ...]) -> nn.Module:
    if layer["type"] in ("global_avgpool", "global_maxpool"):
        return GlobalPool2d("avg" if layer["type"] == "global_avgpool" else "max")
    name, kwargs = torch_layer_args(layer, in_shape)
    return getattr(nn, name)(**kwargs)


def _modules(rows: list[LayerSummary], raws: list) -> list[nn.Module]:
    modules = []
    for row, raw in zip(rows, raws):
        layer = normalize_layer(row.index, raw, row.label)
        if layer["type"] == RESIDUAL:
            shortcut = None
            if row.shortcut is not None:
                conv, norm = projection_args(row)
                shortcut = nn.Sequential(nn.Conv2d(**conv), nn.BatchNorm2d(**norm))
            modules.append(Residual(nn.Sequential(*_modules(row.chains[0], layer["layers"])), shortcut))
        elif layer["type"] == CONCAT:
            chains = zip(row.chains, layer["branches"])
            modules.append(Concat([nn.Sequential(*_modules(inner, branch)) for inner, branch in chains]))
        else:
            modules.append(_module(layer, row.input_shape))
    return modules


def build_model(spec: dict) -> nn.Module:
    """An nn.Module for a spec; raises SpecError (never a torch error) for an invalid one."""
    if is_backbone(spec):
        return build_backbone(spec)
    return nn.Sequential(*_modules(summarize(spec).rows, spec["layers"]))
