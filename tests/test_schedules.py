"""Every learning-rate schedule against torch's own scheduler, step by step on a dummy optimizer:
the torch-free lr_factor (the Train page's preview) and make_scheduler (what the engine trains
with) both give exactly what torch's scheduler gives. And the preview chart shows the value."""

from __future__ import annotations

import pytest
import torch
from torch.optim import lr_scheduler

from cnn_core.figures.training import lr_figure
from cnn_core.train.schedules import lr_curve, lr_factor
from cnn_core.train.steps import make_scheduler
from tests.conftest import tiny_config

BASE_LR = 3e-3
# (steps per epoch, epochs): one step in all, fewer steps than OneCycleLR's warm-up needs, uneven sizes
PLANS = [(1, 1), (3, 1), (1, 5), (7, 3), (50, 4), (123, 3)]


def dummy_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR, momentum=0.9)


def torch_scheduler(schedule: str, optimizer, steps_per_epoch: int, epochs: int, step_size: int, gamma: float):
    total = steps_per_epoch * epochs
    if schedule == "constant":
        return lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    if schedule == "step":  # stepped per training step: step_size epochs are step_size·steps_per_epoch steps
        return lr_scheduler.StepLR(optimizer, step_size=step_size * steps_per_epoch, gamma=gamma)
    if schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    assert schedule == "onecycle"
    return lr_scheduler.OneCycleLR(optimizer, max_lr=BASE_LR, total_steps=total, cycle_momentum=False)


def torch_lrs(schedule, steps_per_epoch, epochs, step_size=1, gamma=0.1) -> list[float]:
    """The learning rate before every training step and after the last one (total + 1 values)."""
    optimizer = dummy_optimizer()
    scheduler = torch_scheduler(schedule, optimizer, steps_per_epoch, epochs, step_size, gamma)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps_per_epoch * epochs):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def assert_close(ours: list[float], theirs: list[float]):
    """Within 1e-12 of the base learning rate at every step (the recursive forms of StepLR and
    CosineAnnealingLR round differently from a closed form, by a few ulps)."""
    assert len(ours) == len(theirs)
    worst = max(abs(a - b) for a, b in zip(ours, theirs))
    step = max(range(len(ours)), key=lambda i: abs(ours[i] - theirs[i]))
    assert worst <= 1e-12 * BASE_LR, f"step {step}: {ours[step]!r} vs torch's {theirs[step]!r}"


CASES = [
    ("constant", {}),
    ("step", {"step_size": 1, "gamma": 0.1}),
    ("step", {"step_size": 2, "gamma": 0.5}),
    ("cosine", {}),
    ("onecycle", {}),
]


@pytest.mark.parametrize(("steps_per_epoch", "epochs"), PLANS)
@pytest.mark.parametrize(("schedule", "options"), CASES, ids=[f"{s}-{o}" for s, o in CASES])
def test_lr_factor_equals_torchs_scheduler(schedule, options, steps_per_epoch, epochs):
    theirs = torch_lrs(schedule, steps_per_epoch, epochs, **options)
    ours = [
        BASE_LR * lr_factor(schedule, s, steps_per_epoch, epochs, **options)
        for s in range(steps_per_epoch * epochs + 1)
    ]
    assert_close(ours, theirs)


@pytest.mark.parametrize(("schedule", "options"), CASES, ids=[f"{s}-{o}" for s, o in CASES])
def test_the_engines_scheduler_equals_torchs(schedule, options):
    steps_per_epoch, epochs = 7, 3
    config = tiny_config(schedule=schedule, lr=BASE_LR, epochs=epochs, **options)
    optimizer = dummy_optimizer()
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    ours = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps_per_epoch * epochs):
        optimizer.step()
        scheduler.step()
        ours.append(optimizer.param_groups[0]["lr"])
    assert_close(ours, torch_lrs(schedule, steps_per_epoch, epochs, **options))


def test_onecycle_peaks_at_the_learning_rate_after_30_percent():
    steps = [lr_factor("onecycle", s, 100, 1) for s in range(101)]
    assert steps[0] == pytest.approx(1 / 25)
    assert max(steps) == pytest.approx(1.0) and steps.index(max(steps)) == 29  # step 0.3·100 − 1
    assert steps[99] == pytest.approx(1 / 25 / 1e4)


# ------------------------------------------------------------------ the preview chart


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle"])
def test_lr_preview_axis_shows_the_value(schedule):
    """The y-axis runs from 0 to a little above the largest rate: a constant 0.001 is drawn at
    0.001 on an axis that reaches it, not on a "0" tick of an axis from -0.5 to 1."""
    steps, lrs = lr_curve(schedule, 1e-3, 30, 3)
    fig = lr_figure(steps, lrs, 30)
    low, high = fig.layout.yaxis.range
    assert low == 0
    assert max(lrs) < high <= 1.2 * max(lrs)
    assert fig.layout.yaxis.exponentformat == "e" or fig.layout.yaxis.tickformat
    assert list(fig.data[0].y) == lrs
