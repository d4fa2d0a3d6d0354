"""Inside the layers: the conv layers and their kernels, the outputs layers produce for an image
(caught without disturbing other visitors of the same cached model), and their activation statistics;
the model every inspection runs (inference_model: eval mode, never switching the shared one) and the
class scores attributions follow.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from cnn_core.arch.blocks import layer_for_module
from cnn_core.arch.formatting import layer_label
from cnn_core.i18n import t
from cnn_core.inspection.loading import InspectionError, LoadedRun
from cnn_core.train.objective import Objective

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


# Held while hooks are added or removed and while a model is copied, so a copy never sees another
# visitor's hooks half-registered. Hooks themselves run unlocked.
_HOOKS_LOCK = threading.Lock()


@contextmanager
def layer_outputs(modules: Iterable[nn.Module], clone: bool = False) -> Iterator[list[tuple[nn.Module, torch.Tensor]]]:
    """Collects (module, output) of every call of these modules, in call order, while the block runs.

    The model is cached and shared by every visitor, each served on their own thread: the hooks
    record this thread's forward passes only and are removed when the block ends. clone=True keeps a
    copy of each output, as it was: a later in-place layer (torchvision's ReLU(inplace=True)) would
    otherwise change it; without clone the outputs stay in the autograd graph.
    """
    thread = threading.get_ident()
    outputs: list[tuple[nn.Module, torch.Tensor]] = []

    def keep(module, _inputs, output):
        if threading.get_ident() == thread:
            outputs.append((module, output.detach().clone() if clone else output))

    with _HOOKS_LOCK:
        handles = [module.register_forward_hook(keep) for module in modules]
    try:
        yield outputs
    finally:
        with _HOOKS_LOCK:
            for handle in handles:
                handle.remove()


def inference_model(loaded: LoadedRun) -> nn.Module:
    """The model an inspection runs: the shared cached one when every module is in eval mode (as
    load_run leaves it), else an eval-mode copy without hooks. The shared model's train/eval mode,
    like its parameters' requires_grad and .grad, is never changed: other visitors use it too."""
    model = loaded.model
    if not any(m.training for m in model.modules()):
        return model
    with _HOOKS_LOCK:
        twin = copy.deepcopy(model)
    for module in twin.modules():
        module._forward_hooks.clear()
    return twin.eval()


def class_scores(loaded: LoadedRun, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The class scores an attribution or a maximisation follows: the network's outputs, or the values
    entering its final Sigmoid or Softmax (the score before the activation, as Grad-CAM's authors
    take it: a saturated sigmoid or softmax has no gradient left to follow)."""
    return Objective.for_spec(loaded.spec).scores(model, x)


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
    model = inference_model(loaded)
    for name, module in model.named_modules():
        if isinstance(module, INSPECTABLE):  # inner layers of blocks too ('3.body.1'), numbered like the builder
            layer = layer_for_module(layers, name)
            kinds[module] = (name, layer["type"] if layer is not None else type(module).__name__.lower())

    with layer_outputs(kinds, clone=True) as outputs, torch.no_grad():
        model(loaded.normalise(image_uint8))
    return [FeatureMap(*kinds[module], output[0]) for module, output in outputs if output.dim() == 4]


def activation_stats(maps: list[FeatureMap]) -> list[dict]:
    return [
        {
            t("inspect.col.layer"): layer_label(m.name, m.kind),  # numbered like the builder
            t("inspect.col.shape"): "×".join(map(str, m.shape)),
            t("inspect.col.mean"): float(m.maps.mean()),
            t("inspect.col.zeros"): float((m.maps == 0).float().mean()),
            t("inspect.col.dead"): float((m.maps.flatten(1).amax(1) <= 0).float().mean()),
        }
        for m in maps
    ]
