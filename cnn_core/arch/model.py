"""Turning a validated spec into torch modules.

Each spec layer becomes exactly one module of an nn.Sequential, so module index i is spec
layer i: inspection tools can hook "layer 3" without a lookup table.
"""

from __future__ import annotations

import torch
from torch import nn

from cnn_core.arch.backbones import build_backbone
from cnn_core.arch.spec import is_backbone, normalize_layer
from cnn_core.arch.summary import summarize


class GlobalPool2d(nn.Module):
    """Global average or max pooling straight to a flat (N, C) tensor."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) if self.mode == "avg" else x.amax(dim=(2, 3))

    def extra_repr(self) -> str:
        return self.mode


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


def build_model(spec: dict) -> nn.Module:
    """An nn.Module for a spec; raises SpecError (never a torch error) for an invalid one."""
    if is_backbone(spec):
        return build_backbone(spec)
    summary = summarize(spec)
    modules = [
        _module(normalize_layer(row.index, raw), row.input_shape) for row, raw in zip(summary.rows, spec["layers"])
    ]
    return nn.Sequential(*modules)
