"""Which pixels a prediction rests on: Grad-CAM over a conv layer's maps and gradient saliency, apart
or both from one forward and one backward pass.

The cached model is shared by every visitor: gradients are taken with torch.autograd.grad with
respect to the input (a copy that requires grad, so a frozen backbone still has a graph) or to a
layer's captured output, so parameters' .grad and requires_grad and the model's mode stay untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnn_core.i18n import t
from cnn_core.inspection.layers import class_scores, conv_layers, inference_model, layer_outputs
from cnn_core.inspection.loading import InspectionError, LoadedRun


def _conv_module(model, layer_name: str | None):
    layers = conv_layers(model)
    if not layers:
        raise InspectionError(t("inspect.err.no_conv"))
    name = layer_name or layers[-1][0]
    module = dict(model.named_modules()).get(name)
    if module is None:
        raise InspectionError(t("inspect.err.no_layer", name=name))
    return module


def _cam(maps: torch.Tensor, grads: torch.Tensor, size) -> torch.Tensor:
    weights = grads.mean(dim=(1, 2))
    cam = F.relu((weights[:, None, None] * maps).sum(0))
    cam = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return cam / cam.max() if cam.max() > 0 else cam


def _saliency(grad: torch.Tensor) -> torch.Tensor:
    grad = grad.abs().amax(0)
    return grad / grad.max() if grad.max() > 0 else grad


def grad_cam(
    loaded: LoadedRun, image_uint8: torch.Tensor, target_class: int, layer_name: str | None = None
) -> torch.Tensor:
    """Grad-CAM: ReLU of the gradient-weighted sum of a conv layer's maps, resized to the input,
    scaled to [0, 1]. The default layer is the last conv layer; the class score is taken before a
    final Sigmoid or Softmax (see class_scores)."""
    model = inference_model(loaded)
    module = _conv_module(model, layer_name)
    x = loaded.normalise(image_uint8).requires_grad_(True)  # a new tensor; a graph even through frozen layers
    with layer_outputs([module]) as outputs, torch.enable_grad():
        scores = class_scores(loaded, model, x)
    maps = outputs[-1][1]
    (grads,) = torch.autograd.grad(scores[0, target_class], maps)
    return _cam(maps[0].detach(), grads[0], x.shape[2:])


def saliency(loaded: LoadedRun, image_uint8: torch.Tensor, target_class: int) -> torch.Tensor:
    """|∂ class score / ∂ input pixel|, the largest over channels, scaled to [0, 1] (the score as
    class_scores takes it)."""
    model = inference_model(loaded)
    x = loaded.normalise(image_uint8).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(class_scores(loaded, model, x)[0, target_class], x)
    return _saliency(grad[0])


def grad_cam_and_saliency(
    loaded: LoadedRun, image_uint8: torch.Tensor, target_class: int, layer_name: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """grad_cam and saliency of the same image and class, from one forward and one backward pass
    (the gradients to the layer's maps and to the input taken together)."""
    model = inference_model(loaded)
    module = _conv_module(model, layer_name)
    x = loaded.normalise(image_uint8).requires_grad_(True)
    with layer_outputs([module]) as outputs, torch.enable_grad():
        scores = class_scores(loaded, model, x)
    maps = outputs[-1][1]
    grads, grad = torch.autograd.grad(scores[0, target_class], [maps, x])
    return _cam(maps[0].detach(), grads[0], x.shape[2:]), _saliency(grad[0])
