"""Learning-rate schedules as pure functions of the step, shared by the trainer and the
preview chart on the training page. Torch-free.
"""

from __future__ import annotations

import math


def lr_factor(
    schedule: str, step: int, steps_per_epoch: int, epochs: int, step_size: int = 1, gamma: float = 0.1
) -> float:
    """Multiplier of the base learning rate at a global step (0-based)."""
    total = max(1, epochs * steps_per_epoch)
    if schedule == "step":
        return gamma ** ((step // max(1, steps_per_epoch)) // step_size)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    if schedule == "onecycle":
        # warm up over the first 30% from 1/25 of the peak, then cosine down to ~0
        warm = max(1, int(0.3 * total))
        if step < warm:
            return 0.04 + 0.96 * step / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm)))) * (1 - 1e-4) + 1e-4
    return 1.0


def lr_curve(
    schedule: str,
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    step_size: int = 1,
    gamma: float = 0.1,
    points: int = 400,
) -> tuple[list[int], list[float]]:
    """(steps, learning rates) sampled over the planned run, at most `points` of them."""
    total = max(1, epochs * steps_per_epoch)
    stride = max(1, total // points)
    steps = list(range(0, total, stride)) + [total - 1]
    return steps, [base_lr * lr_factor(schedule, s, steps_per_epoch, epochs, step_size, gamma) for s in steps]
