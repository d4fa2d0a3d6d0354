"""Inside the layers: the conv layers and their kernels, the outputs layers produce for an image
(caught without disturbing other visitors of the same cached model), and their activation statistics.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from cnn_core.i18n import t
from cnn_core.inspection.loading import InspectionError, LoadedRun

INSPECTABLE = (
    nn.Conv2d,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.BatchNorm2d,
)


@contextmanager
def layer_outputs(modules: Iterable[nn.Module]) -> Iterator[list[tuple[nn.Module, torch.Tensor]]]:
    """Collects (module, output) of every call of these modules, in call order, while the block runs.

    The model is cached and shared by every visitor, each served on their own thread: the hooks
    record this thread's forward passes only and are removed when the block ends.
    """
    thread = threading.get_ident()
    outputs: list[tuple[nn.Module, torch.Tensor]] = []

    def keep(module, _inputs, output):
        if threading.get_ident() == thread:
            outputs.append((module, output))

    handles = [module.register_forward_hook(keep) for module in modules]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def kernels(model: nn.Module, layer_name: str | None = None, out_channel: int = 0) -> torch.Tensor:
    """First conv layer: all kernels (out, in, kh, kw). A deeper one: one output channel's
    kernels across its input channels, as (in, 1, kh, kw)."""
    layers = conv_layers(model)
    if not layers:
        raise InspectionError(t("inspect.err.no_conv"))
    names = [n for n, _ in layers]
    name = layer_name or names[0]
    if name not in names:
        raise InspectionError(t("inspect.err.no_layer", name=name))
    weight = dict(layers)[name].weight.detach().cpu()
    if name == names[0]:
        return weight
    if not 0 <= out_channel < weight.shape[0]:
        raise InspectionError(t("inspect.err.channel", c=out_channel, n=weight.shape[0]))
    return weight[out_channel].unsqueeze(1)


@dataclass
class FeatureMap:
    name: str
    kind: str
    maps: torch.Tensor  # (C, H, W) for one image

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.maps.shape)


def feature_maps(loaded: LoadedRun, image_uint8: torch.Tensor) -> list[FeatureMap]:
    """Outputs of every conv / activation / pooling / norm layer with a spatial output."""
    kinds = {}
    layers = loaded.spec.get("layers") or []
    for name, module in loaded.model.named_modules():
        if isinstance(module, INSPECTABLE):
            index = int(name) if name.isdigit() else None
            kinds[module] = (
                name,
                layers[index]["type"] if index is not None and index < len(layers) else type(module).__name__.lower(),
            )

    with layer_outputs(kinds) as outputs, torch.no_grad():
        loaded.model(loaded.normalise(image_uint8))
    return [FeatureMap(*kinds[module], output[0].detach()) for module, output in outputs if output.dim() == 4]


def activation_stats(maps: list[FeatureMap]) -> list[dict]:
    return [
        {
            t("inspect.col.layer"): f"{m.name} {m.kind}",
            t("inspect.col.shape"): "×".join(map(str, m.shape)),
            t("inspect.col.mean"): float(m.maps.mean()),
            t("inspect.col.zeros"): float((m.maps == 0).float().mean()),
            t("inspect.col.dead"): float((m.maps.flatten(1).amax(1) <= 0).float().mean()),
        }
        for m in maps
    ]
