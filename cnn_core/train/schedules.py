"""Learning-rate schedules as pure functions of the step, shared by the trainer and the
preview chart on the training page. Torch-free.

Each is torch's own scheduler stepped once per training step, as a formula (tests/test_schedules.py
pins them step by step): "constant" LambdaLR(1), "step" StepLR(step_size epochs, gamma), "cosine"
CosineAnnealingLR(T_max = all steps), "onecycle" OneCycleLR's learning rate with its defaults.
"""

from __future__ import annotations

import math

# torch.optim.lr_scheduler.OneCycleLR's defaults: 30% of the steps rise from max_lr / 25 to
# max_lr, the rest fall to max_lr / 25 / 1e4, both halves of a cosine. (OneCycleLR also cycles
# the momentum by default; CNN Lab keeps the optimizer's momentum fixed.)
ONECYCLE_PCT_START = 0.3
ONECYCLE_DIV_FACTOR = 25.0
ONECYCLE_FINAL_DIV_FACTOR = 1e4


def _cosine_anneal(start: float, end: float, pct: float) -> float:
    """From start (pct 0) to end (pct 1) along half a cosine, as OneCycleLR's _annealing_cos."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def onecycle_factor(step: int, total: int) -> float:
    """OneCycleLR's learning rate over max_lr at a step, its two phases exactly as torch has them
    (the first ends at step pct_start·total − 1, the second at total − 1)."""
    initial = 1.0 / ONECYCLE_DIV_FACTOR
    final = initial / ONECYCLE_FINAL_DIV_FACTOR
    warm_end = float(ONECYCLE_PCT_START * total) - 1
    if step <= warm_end:
        return _cosine_anneal(initial, 1.0, step / warm_end)
    return _cosine_anneal(1.0, final, (step - warm_end) / (total - 1 - warm_end))


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
        return onecycle_factor(min(step, total), total)
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
