"""How long one epoch of a run will take on this machine (the Train page's estimate), measured
the way the worker trains: the same steps (train_one_epoch: uint8 batches normalised on the
device, augmentation, forward, loss, backward, optimizer and scheduler), after a warm-up, on the
worker's thread count, plus the epoch's validation pass.

The data are random uint8 images of the dataset's shape: the steps' cost does not depend on the
pixels, and no dataset has to be loaded. A backbone is built without its pretrained weights,
which change nothing in the timing and would otherwise be downloaded here.

`estimate_in_subprocess` measures in a short-lived `python -m cnn_core.train.estimate` process:
torch's thread count and a process's priority are process-wide, so the app's own process keeps
its settings, and the measurement runs with the worker's (`CNN_LAB_WORKER_THREADS`, or torch's
default of every core, and `CNN_LAB_WORKER_NICE`).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from cnn_core.errors import CnnLabError
from cnn_core.i18n import t
from cnn_core.train.config import TrainConfig
from cnn_core.train.device_data import to_device
from cnn_core.train.devices import determinism, resolve_device, use_channels_last
from cnn_core.train.objective import Objective
from cnn_core.train.steps import EpochState, Sums, evaluate, make_model, make_optimizer, make_scheduler, train_one_epoch

# The TrainConfig fields a step's cost depends on; the others (epochs, lr, seed, …) do not.
TIMING_FIELDS = (
    "batch_size",
    "device",
    "optimizer",
    "augment",
    "crop_padding",
    "rotation_degrees",
    "resized_crop_scale",
    "mixed_precision",
    "channels_last",
    "deterministic",
    "clip_grad_norm",
)
WARMUP_STEPS = 3  # first steps are slow: allocations, kernel selection
MIN_MEASURE_S = 0.5  # measure at least this long …
MAX_MEASURE_STEPS = 40  # … or this many steps, whichever comes first
MIN_STEPS = 3
EVAL_BATCH = 1024  # evaluate()'s batch size
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class EstimateError(CnnLabError, RuntimeError):
    """The time per epoch could not be measured (the measuring process failed or took too long)."""


@dataclass
class EpochEstimate:
    step_s: float  # seconds per training step, measured (the median step on the CPU)
    steps: int  # training steps per epoch
    val_s: float  # seconds of the epoch's validation pass
    measured_steps: int
    threads: int
    device: str
    params: int  # parameters of the network measured

    @property
    def epoch_s(self) -> float:
        return self.step_s * self.steps + self.val_s


def estimate_request(config: TrainConfig, input_shape, num_classes: int, train_size: int, val_size: int) -> dict:
    """What the estimate depends on, as JSON-able values: the network as it will train, the
    timing fields of the config and the split sizes. Equal requests give the same estimate, so
    this is also the cache key."""
    spec = config.architecture(tuple(input_shape), num_classes)
    if isinstance(spec.get("backbone"), dict):
        spec["backbone"] = {**spec["backbone"], "pretrained": False}
    return {
        "spec": spec,
        "fields": {name: getattr(config, name) for name in TIMING_FIELDS},
        "train_size": int(train_size),
        "val_size": int(val_size),
    }


def _uint8_split(n: int, spec: dict, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(0, 256, (n, *spec["input_shape"]), dtype=torch.uint8, generator=generator)
    return x, torch.randint(0, spec["num_classes"], (n,), generator=generator)


def estimate_epoch(request: dict, clock: Callable[[], float] = time.perf_counter) -> EpochEstimate:
    """Measure the request (see estimate_request) in this process, with clock as the timer; the
    run's determinism settings apply during the measurement only, as run_training does. Like
    training, it seeds torch's global generator: the app measures in a process of its own
    (estimate_in_subprocess), never in its own process."""
    config = TrainConfig(
        spec=request["spec"], preset=None, schedule="constant", log_interval_s=60.0, **request["fields"]
    )
    with determinism(config.deterministic):
        return _measure(request, config, clock)


def _measure(request: dict, config: TrainConfig, clock: Callable[[], float]) -> EpochEstimate:
    spec = config.spec
    device = resolve_device(config.device)
    config = replace(config, channels_last=use_channels_last(config.channels_last, device, config.mixed_precision))
    generator = torch.Generator().manual_seed(0)  # the random images; the steps seed as a run does
    steps = max(1, math.ceil(request["train_size"] / config.batch_size))
    n_train = min(request["train_size"], config.batch_size * (WARMUP_STEPS + MAX_MEASURE_STEPS + 1))
    mean, std = [0.5] * spec["input_shape"][0], [0.25] * spec["input_shape"][0]
    train = to_device(*_uint8_split(max(1, n_train), spec, generator), mean, std, device)
    model = make_model(spec, 0, device, config.channels_last)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, steps)
    criterion = Objective.for_spec(spec)  # the loss the run will train with (it follows the output layer)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    ticks: list[float] = []

    def tick() -> bool:  # train_one_epoch asks before every step: one tick per step
        if len(ticks) == WARMUP_STEPS:
            sync()
        ticks.append(clock())
        measured = len(ticks) - 1 - WARMUP_STEPS
        done = measured >= MAX_MEASURE_STEPS or (
            measured >= MIN_STEPS and ticks[-1] - ticks[WARMUP_STEPS] >= MIN_MEASURE_S
        )
        if done and device.type == "cuda":  # the queued kernels finish before the clock stops
            sync()
            ticks[-1] = clock()
        return done

    epoch = 0  # a small training set ends its epoch before the measurement: carry on with the next
    while train_one_epoch(
        model, train, criterion, optimizer, scheduler, config, EpochState(epoch, 0, Sums.zeros(device)), tick
    ):
        epoch += 1
    measured = len(ticks) - 1 - WARMUP_STEPS
    if device.type == "cuda":  # synchronised only at both ends: the mean of the stretch
        step_s = (ticks[-1] - ticks[WARMUP_STEPS]) / measured
    else:  # the median step: a moment when another process takes the CPU does not count
        step_s = statistics.median(b - a for a, b in zip(ticks[WARMUP_STEPS:-1], ticks[WARMUP_STEPS + 1 :]))

    val_s = 0.0
    if request["val_size"]:
        n_val = min(request["val_size"], EVAL_BATCH)
        val = to_device(*_uint8_split(n_val, spec, generator), mean, std, device)
        eval_criterion = criterion.summed()
        evaluate(model, val, eval_criterion, spec["num_classes"], channels_last=config.channels_last)  # warm-up
        sync()
        start = clock()
        evaluate(model, val, eval_criterion, spec["num_classes"], channels_last=config.channels_last)
        sync()
        val_s = (clock() - start) * request["val_size"] / n_val
    return EpochEstimate(
        step_s=step_s,
        steps=steps,
        val_s=val_s,
        measured_steps=measured,
        threads=torch.get_num_threads(),
        device=str(device),
        params=sum(p.numel() for p in model.parameters()),
    )


def estimate_in_subprocess(request: dict, timeout_s: float = 120.0) -> EpochEstimate:
    """estimate_epoch in a fresh `python -m cnn_core.train.estimate` process with the worker's
    thread count; EstimateError when it fails or overruns timeout_s."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cnn_core.train.estimate"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=str(PROJECT_ROOT),
        )
    except subprocess.TimeoutExpired as exc:
        raise EstimateError(t("estimate.err.timeout", seconds=f"{timeout_s:.0f}")) from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or [t("estimate.exit_code", code=done.returncode)])[-1]
        raise EstimateError(t("estimate.err.failed", reason=reason[:300]))
    return EpochEstimate(**json.loads(lines[-1]))


def main() -> int:
    """Read a request (JSON) on stdin, print its EpochEstimate as one JSON line."""
    from cnn_core.settings import get_settings

    settings = get_settings()
    if settings.worker_threads > 0:
        torch.set_num_threads(settings.worker_threads)  # this process only: it exists for this measurement
    os.nice(settings.worker_nice)  # as the worker runs: on a busy machine, lower priority is slower
    print(json.dumps(asdict(estimate_epoch(json.loads(sys.stdin.read())))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
