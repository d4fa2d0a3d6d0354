"""Exploding gradients and gradient clipping: the activations lesson's deep stack with its weights
scaled above 1, trained for a few steps of plain SGD with and without clipping the gradients'
total norm (the rule of torch.nn.utils.clip_grad_norm_, written out so the lesson can show it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnn_core.concepts import ConceptError
from cnn_core.concepts.activations import MAX_WEIGHT_SCALE, stacked_network
from cnn_core.i18n import t

CLIP_EPSILON = 1e-6  # what clip_grad_norm_ adds to the norm before dividing


def total_norm(grads) -> torch.Tensor:
    """The L2 norm of all the gradients together, as if they were one vector."""
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def clip_by_total_norm(grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    """The gradients scaled down together so that their total L2 norm is at most max_norm, and
    that norm before: their direction is kept, only their length is capped."""
    total = total_norm(grads)
    factor = torch.clamp(max_norm / (total + CLIP_EPSILON), max=1.0)
    return [g * factor for g in grads], float(total)


@dataclass
class TrainingSteps:
    """A short training run: the loss before each step and the gradients' total norm (before any
    clipping); both stop at the first step whose loss or gradient is no longer a finite number."""

    losses: list[float]
    grad_norms: list[float]
    diverged_at: int | None  # the step whose loss or gradient overflowed; None when all were finite


def train_deep_stack(
    depth: int,
    scale: float,
    max_norm: float | None,
    steps: int = 30,
    lr: float = 0.01,
    width: int = 32,
    batch: int = 128,
    seed: int = 0,
) -> TrainingSteps:
    """A ReLU stack (kaiming weights times scale) fitting random targets with SGD for `steps` steps,
    its gradients clipped to max_norm when given. Gradients come from torch.autograd.grad on a network
    of its own, so nothing shared is touched."""
    if max_norm is not None and not (isinstance(max_norm, (int, float)) and 0 < max_norm <= 1e6):
        raise ConceptError(t("concept.err.max_norm", value=max_norm))
    if not (isinstance(scale, (int, float)) and 0 < scale <= MAX_WEIGHT_SCALE):
        raise ConceptError(t("concept.err.weight_scale", scale=scale, high=MAX_WEIGHT_SCALE))
    net = stacked_network("relu", depth, width, "kaiming", seed, scale)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, width, generator=generator)
    target = torch.randn(batch, 1, generator=generator)
    params = list(net.parameters())
    losses, norms = [], []
    for step in range(steps):
        loss = F.mse_loss(net(x), target)
        grads = torch.autograd.grad(loss, params)
        if max_norm is not None:
            grads, norm = clip_by_total_norm(list(grads), max_norm)
        else:
            norm = float(total_norm(grads))
        if not (math.isfinite(float(loss.detach())) and math.isfinite(norm)):
            return TrainingSteps(losses, norms, step)
        losses.append(float(loss.detach()))
        norms.append(norm)
        with torch.no_grad():
            for param, grad in zip(params, grads):
                param -= lr * grad
        if not all(torch.isfinite(p).all() for p in params):
            return TrainingSteps(losses, norms, step + 1)
    return TrainingSteps(losses, norms, None)
