"""What the network sees: activation maximisation, gradient ascent in input space on class logits or
conv channels, all targets optimised together as one batch, with jitter, blur and total variation to
keep the pictures image-like.
Only the pictures are optimised, with gradients from torch.autograd.grad: the cached model shared by
every visitor keeps its parameters' requires_grad and .grad, and its mode (see inference_model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnn_core.i18n import t
from cnn_core.inspection.layers import class_scores, inference_model, layer_outputs
from cnn_core.inspection.loading import InspectionError, LoadedRun
from cnn_core.train.objective import Objective

DEFAULT_STEPS = 60
DEFAULT_LR = 0.1


@dataclass
class Visualisation:
    image: torch.Tensor  # uint8 (C, H, W)
    curve: list[dict]  # step, objective, probability
    start_probability: float
    final_probability: float


def _blur(x: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :]) / 16
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel.expand(c, 1, 3, 3), groups=c)


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per picture of the batch: the mean absolute difference of neighbouring pixels, summed over the batch
    (each picture's penalty is its own, as when optimised alone)."""
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return (dy + dx).sum()


def maximise_activations(
    loaded: LoadedRun,
    target_classes: Sequence[int] = (),
    layer_name: str | None = None,
    channels: Sequence[int] = (),
    start: torch.Tensor | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    jitter: int = 2,
    blur_every: int = 4,
    tv_weight: float = 0.05,
    polish: float = 0.2,
    seed: int = 0,
) -> list[Visualisation]:
    """Gradient ascent in input space on several class scores (target_classes), or several channels'
    mean activations of one conv layer (layer_name, channels), all in one batch: one picture per
    target, in their order. The class score is taken before a final Sigmoid or Softmax, the
    probability as the network's outputs give it.

    In eval mode every picture's forward pass is independent of the others, so each picture follows
    its own objective exactly as when optimised alone. Small inputs need regularisers to stay
    image-like: random jitter (shifts), a periodic 3×3 blur, a total-variation penalty, and pixel
    values kept inside the data's range. The last `polish` share of the steps goes without jitter and
    blur, so the picture settles where its probability is read.
    """
    model = inference_model(loaded)
    objective_of_run = Objective.for_spec(loaded.spec)
    by_channel = layer_name is not None
    targets = list(channels if by_channel else target_classes)
    if not targets:
        return []
    n = len(targets)
    module = None
    if by_channel:
        module = dict(model.named_modules()).get(layer_name)
        if module is None:
            raise InspectionError(t("inspect.err.no_layer", name=layer_name))
    c, h, w = loaded.input_shape
    generator = torch.Generator().manual_seed(seed)
    if start is None:
        base = torch.rand(n, c, h, w, generator=generator) * 0.2 + 0.4
        x = loaded.normalise((base * 255).to(torch.uint8))
    else:
        x = loaded.normalise(start[:1]).expand(n, c, h, w)
    low = loaded.normalise(torch.zeros(1, c, 1, 1, dtype=torch.uint8))
    high = loaded.normalise(torch.full((1, c, 1, 1), 255, dtype=torch.uint8))
    x = x.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    rows = torch.arange(n)
    index = torch.tensor(targets)

    def probabilities(images: torch.Tensor) -> list[float]:
        if by_channel:
            return [float("nan")] * n
        with torch.no_grad():  # the probability shown for the network's outputs, as on the Predictions page
            return objective_of_run.probabilities(class_scores(loaded, model, images))[rows, index].tolist()

    start_probabilities = probabilities(x.detach())
    curves: list[list[dict]] = [[] for _ in range(n)]
    every = max(1, steps // 50)
    settle = steps - int(steps * polish)  # the last steps: no jitter or blur, the picture as it will be shown
    for step in range(steps):
        shake = jitter if step < settle else 0
        dy, dx = torch.randint(-shake, shake + 1, (2,), generator=generator).tolist() if shake else (0, 0)
        with torch.enable_grad():  # also when a caller runs under torch.no_grad()
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            with layer_outputs([module] if module is not None else []) as outputs:
                scores = class_scores(loaded, model, shifted) if module is None else model(shifted)
            if module is not None:
                out = outputs[-1][1]
                bad = [ch for ch in targets if not 0 <= ch < out.shape[1]]
                if bad:
                    raise InspectionError(t("inspect.err.channel", c=bad[0], n=out.shape[1]))
                objective = out[rows, index].flatten(1).mean(1)
            else:
                objective = scores[rows, index]
            loss = -objective.sum() + tv_weight * _total_variation(x)
            (x.grad,) = torch.autograd.grad(loss, x)
        optimizer.step()
        with torch.no_grad():
            if blur_every and step % blur_every == 0 and step < settle:
                x.copy_(_blur(x))
            x.copy_(torch.maximum(torch.minimum(x, high), low))
        if step % every == 0 or step == steps - 1:
            values = objective.detach().tolist()
            for curve, value, p in zip(curves, values, probabilities(x.detach())):
                curve.append({"step": step, "objective": value, "probability": p})
    final = x.detach()
    pictures = loaded.denormalise(final)
    return [
        Visualisation(pictures[i], curves[i], start_probabilities[i], p) for i, p in enumerate(probabilities(final))
    ]


def maximise_activation(
    loaded: LoadedRun,
    target_class: int | None = None,
    layer_name: str | None = None,
    channel: int = 0,
    start: torch.Tensor | None = None,
    steps: int = DEFAULT_STEPS,
    **options,
) -> Visualisation:
    """One target: a class score (target_class) or one channel of a conv layer (layer_name, channel);
    see maximise_activations for the rest."""
    if layer_name is not None:
        return maximise_activations(
            loaded, layer_name=layer_name, channels=[channel], start=start, steps=steps, **options
        )[0]
    if target_class is None:
        raise ValueError("maximise_activation needs a target_class or a layer_name")
    return maximise_activations(loaded, target_classes=[target_class], start=start, steps=steps, **options)[0]
