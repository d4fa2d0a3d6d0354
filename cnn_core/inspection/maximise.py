"""What the network sees: activation maximisation, gradient ascent in input space on a class
logit or one channel, with jitter, blur and total variation to keep the picture image-like.
Only the picture is optimised, with gradients from torch.autograd.grad: the cached model shared by
every visitor keeps its parameters' requires_grad and .grad, and its mode (see inference_model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnn_core.i18n import t
from cnn_core.inspection.layers import class_scores, inference_model, layer_outputs
from cnn_core.inspection.loading import InspectionError, LoadedRun
from cnn_core.train.objective import Objective


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
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def maximise_activation(
    loaded: LoadedRun,
    target_class: int | None = None,
    layer_name: str | None = None,
    channel: int = 0,
    start: torch.Tensor | None = None,
    steps: int = 200,
    lr: float = 0.05,
    jitter: int = 2,
    blur_every: int = 4,
    tv_weight: float = 0.05,
    seed: int = 0,
) -> Visualisation:
    """Gradient ascent in input space on a class score (or one conv channel's mean activation); the
    score before a final Sigmoid or Softmax, the probability as the network's outputs give it.

    Small inputs need regularisers to stay image-like: random jitter (shifts), a periodic
    3×3 blur, a total-variation penalty, and pixel values kept inside the data's range.
    """
    model = inference_model(loaded)
    objective_of_run = Objective.for_spec(loaded.spec)
    c, h, w = loaded.input_shape
    generator = torch.Generator().manual_seed(seed)
    if start is None:
        base = torch.rand(1, c, h, w, generator=generator) * 0.2 + 0.4
        x = loaded.normalise((base * 255).to(torch.uint8))
    else:
        x = loaded.normalise(start)
    low = loaded.normalise(torch.zeros(1, c, 1, 1, dtype=torch.uint8))
    high = loaded.normalise(torch.full((1, c, 1, 1), 255, dtype=torch.uint8))
    x = x.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    module = None
    if layer_name is not None:
        module = dict(model.named_modules()).get(layer_name)
        if module is None:
            raise InspectionError(t("inspect.err.no_layer", name=layer_name))

    def probability(image: torch.Tensor) -> float:
        if target_class is None:
            return float("nan")
        with torch.no_grad():  # the probability shown for the network's outputs, as on the Predictions page
            return float(objective_of_run.probabilities(class_scores(loaded, model, image))[0, target_class])

    start_probability = probability(x.detach())
    curve = []
    for step in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist() if jitter else (0, 0)
        with torch.enable_grad():  # also when a caller runs under torch.no_grad()
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            with layer_outputs([module] if module is not None else []) as outputs:
                scores = class_scores(loaded, model, shifted) if module is None else model(shifted)
            if module is not None:
                out = outputs[-1][1]
                if not 0 <= channel < out.shape[1]:
                    raise InspectionError(t("inspect.err.channel", c=channel, n=out.shape[1]))
                objective = out[0, channel].mean()
            else:
                objective = scores[0, target_class]
            loss = -objective + tv_weight * _total_variation(x)
            (x.grad,) = torch.autograd.grad(loss, x)
        optimizer.step()
        with torch.no_grad():
            if blur_every and step % blur_every == 0:
                x.copy_(_blur(x))
            x.copy_(torch.maximum(torch.minimum(x, high), low))
        if step % max(1, steps // 50) == 0 or step == steps - 1:
            curve.append({"step": step, "objective": float(objective.detach()), "probability": probability(x.detach())})
    final = x.detach()
    return Visualisation(loaded.denormalise(final)[0], curve, start_probability, probability(final))
