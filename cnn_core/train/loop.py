"""run_training: the steps of steps.py composed over a run directory.

It loads the splits, builds the model, resumes from the newest checkpoint, then trains epoch
after epoch (train_one_epoch), each followed by a validation (evaluate), an epoch record in
metrics.jsonl and a checkpoint; it ends with the test evaluation, the final weights
(model.safetensors) and predictions.json. Every session records its versions in
environment.json. A stop, or the wall-time cap, checkpoints the run and raises StopRequested; the
next run_training on the same directory carries on from there and ends with exactly the weights
an uninterrupted run would have.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from cnn_core.data.loaders import Splits, load_splits
from cnn_core.files import write_json_atomic
from cnn_core.i18n import t
from cnn_core.runs.directory import Status
from cnn_core.runs.metrics import append_metrics, repair_metrics, truncate_metrics
from cnn_core.train.checkpoints import load_latest_checkpoint, save_checkpoint
from cnn_core.train.config import ConfigError, TrainConfig
from cnn_core.train.device_data import normalization_stats, to_device
from cnn_core.train.devices import determinism, resolve_device, use_channels_last
from cnn_core.train.distributed import ONE_PROCESS, Ranks, parallel
from cnn_core.train.environment import record_environment
from cnn_core.train.objective import Objective
from cnn_core.train.steps import (
    EpochState,
    StepLog,
    Sums,
    across,
    evaluate,
    load_optimizer_state,
    load_scheduler_state,
    make_model,
    make_optimizer,
    make_scheduler,
    train_one_epoch,
)
from cnn_core.train.weights import save_final_weights


def check_last_batch(images: int, batch_size: int, ranks: Ranks) -> None:
    """In a group, every process needs at least one image of every batch (DDP averages every
    process's gradient): an epoch's last, smaller batch must hold one per process."""
    last = images % batch_size
    if ranks.distributed and 0 < last < ranks.world:
        raise ConfigError(t("config.err.last_batch", images=images, batch=batch_size, last=last, world=ranks.world))


class StopRequested(Exception):
    """Raised by run_training when a stop was asked for, or the run's training time budget is
    spent (out_of_time); the run is checkpointed first."""

    def __init__(self, out_of_time: bool = False):
        super().__init__("out of time" if out_of_time else "stop requested")
        self.out_of_time = out_of_time


# ------------------------------------------------------------------ a run directory


@dataclass
class Progress:
    """What a checkpoint restores besides the model, the optimizer and the scheduler."""

    position: EpochState
    elapsed_s: float = 0.0  # training time over all sessions of this run
    best_val_acc: float | None = None


def restore(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device,
) -> Progress:
    """Load the newest checkpoint of run_dir into model, optimizer and scheduler, and say where the
    run stands; a run without one starts at epoch 0."""
    state, _ = load_latest_checkpoint(run_dir, fits=lambda state, path: _fits(model, state, path))
    if state is None:
        return Progress(EpochState(0, 0, Sums.zeros(device)))
    model.load_state_dict(state["model"])
    load_optimizer_state(optimizer, model, state["optimizer"])
    load_scheduler_state(scheduler, state["scheduler"])
    if "rng_cpu" in state:
        torch.set_rng_state(state["rng_cpu"])
    totals = Sums(state["acc_loss"].to(device), state["acc_correct"].to(device), int(state["acc_seen"]))
    position = EpochState(int(state["epoch"]), int(state["step_in_epoch"]), totals)
    return Progress(position, float(state["elapsed_s"]), state.get("best_val_acc"))


def _fits(model: nn.Module, state: dict, path: Path) -> bool:
    """Whether a checkpoint holds this model's tensors, name for name and shape for shape; one that
    does not (another network's) is reported in the run's log and skipped for the previous one."""
    own, saved = model.state_dict(), state.get("model")
    fits = (
        isinstance(saved, dict)
        and set(saved) == set(own)
        and all(isinstance(saved[k], torch.Tensor) and saved[k].shape == v.shape for k, v in own.items())
        and all(key in state for key in ("optimizer", "scheduler", "epoch", "step_in_epoch", "elapsed_s"))
    )
    if not fits:
        print(t("run.log.checkpoint_unfit", file=path.name), flush=True)
    return fits


def checkpoint_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    progress: Progress,
    global_step: int,
) -> dict:
    """Everything a resume needs, as tensors and plain values (see checkpoints.py)."""
    position = progress.position
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": position.epoch,
        "step_in_epoch": position.step,
        "global_step": global_step,
        "elapsed_s": progress.elapsed_s,
        "best_val_acc": progress.best_val_acc,
        "acc_loss": position.totals.loss.detach().cpu(),
        "acc_correct": position.totals.correct.cpu(),
        "acc_seen": position.totals.seen,
        "rng_cpu": torch.get_rng_state(),
    }


def step_record(log: StepLog, steps_per_epoch: int, lr: float) -> dict:
    """The metrics.jsonl record of a StepLog."""
    return {
        "kind": "step",
        "step": log.epoch * steps_per_epoch + log.step,
        "epoch": log.epoch + log.step / steps_per_epoch,
        "loss": log.loss,
        "acc": log.acc,
        "lr": lr,
        "images_per_s": log.images_per_s,
        "time": time.time(),
    }


def epoch_record(state: EpochState, global_step: int, lr: float, epoch_time_s: float, val: dict | None) -> dict:
    """The metrics.jsonl record of a finished epoch, with its validation metrics when there are any."""
    record = {
        "kind": "epoch",
        "epoch": state.epoch + 1,
        "step": global_step,
        "train_loss": state.totals.mean_loss(),
        "train_acc": state.totals.accuracy(),
        "lr": lr,
        "epoch_time_s": epoch_time_s,
        "time": time.time(),
    }
    if val:
        record.update(
            val_loss=val["loss"], val_acc=val["acc"], per_class_acc=val["per_class_acc"], confusion=val["confusion"]
        )
    return record


def final_test_record(test: dict, global_step: int) -> dict:
    """The metrics.jsonl record of the final test evaluation."""
    return {
        "kind": "test",
        "step": global_step,
        "test_loss": test["loss"],
        "test_acc": test["acc"],
        "per_class_acc": test["per_class_acc"],
        "confusion": test["confusion"],
        "time": time.time(),
    }


def write_dataset_and_spec(run_dir: Path, splits: Splits, spec: dict, mean: list, std: list) -> None:
    """dataset.json (what was trained on) and spec.json (the network as trained) of a run."""
    description = {
        "name": splits.name,
        "class_names": splits.class_names,
        "input_shape": list(splits.input_shape),
        "mean": mean,
        "std": std,
        "train": len(splits.train_y),
        "val": len(splits.val_y),
        "test": len(splits.test_y),
        "skipped_files": splits.skipped_files,
    }
    write_json_atomic(run_dir / "dataset.json", description)
    write_json_atomic(run_dir / "spec.json", spec)


def run_training(
    run_dir: Path,
    config: TrainConfig,
    should_stop: Callable[[], bool],
    status: Status,
    on_log: Callable[[Status], None] | None = None,
    time_budget_s: float | None = None,
    ranks: Ranks = ONE_PROCESS,
) -> dict:
    """Train (or resume) the run in run_dir to completion; raise StopRequested after a stop, or
    once the run's training time over all its sessions reaches time_budget_s (a demo's cap).

    status is kept up to date and handed to on_log after every logged step and every epoch.
    Returns the final test metrics. Writes metrics, checkpoints, weights and predictions, and this
    session's versions in environment.json. A deterministic config trains with torch's
    deterministic algorithms (devices.determinism), the process's settings restored at the end.

    In a group of processes (ranks, started by torchrun: distributed.py) every process calls this;
    rank 0 alone writes the run directory and evaluates, and its return value is the only one
    with test metrics. A checkpoint holds the group's sums and the plain model's tensors, so a
    run resumes on any number of processes.
    """
    with determinism(config.deterministic):
        return _run_training(run_dir, config, should_stop, status, on_log, time_budget_s, ranks)


def _run_training(
    run_dir: Path,
    config: TrainConfig,
    should_stop: Callable[[], bool],
    status: Status,
    on_log: Callable[[Status], None] | None,
    time_budget_s: float | None,
    ranks: Ranks,
) -> dict:
    main = ranks.main
    device = ranks.device(resolve_device(config.device))
    config = replace(config, channels_last=use_channels_last(config.channels_last, device, config.mixed_precision))
    splits = load_splits(
        config.dataset, config.val_split, config.seed, config.data_dir, config.folder_path, config.image_size
    )
    spec = config.architecture(splits.input_shape, splits.num_classes)
    model = make_model(spec, config.seed, device, config.channels_last)
    mean, std = normalization_stats(config.normalization, splits)
    train = to_device(splits.train_x, splits.train_y, mean, std, device)
    val = to_device(splits.val_x, splits.val_y, mean, std, device)
    test = to_device(splits.test_x, splits.test_y, mean, std, device)
    if main:
        write_dataset_and_spec(run_dir, splits, spec, mean, std)

    steps_per_epoch = math.ceil(len(train.y) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    progress = restore(run_dir, model, optimizer, scheduler, device)
    if not main:  # a checkpoint's sums are the group's: rank 0 carries them on, the others start at zero
        progress.position.totals = Sums.zeros(device)
    check_last_batch(len(train.y), config.batch_size, ranks)

    def global_step() -> int:
        return progress.position.epoch * steps_per_epoch + progress.position.step

    if main:
        repaired = repair_metrics(run_dir)
        if repaired is not None:
            print(t("run.log.metrics_repaired", copy=repaired.name), flush=True)
        truncate_metrics(run_dir, global_step(), progress.position.epoch)
        record_environment(run_dir, device, global_step(), config.channels_last)
    status.epochs, status.total_steps, status.device = config.epochs, total_steps, str(device)
    status.world_size = ranks.world
    # The loss follows the network's output layer; validation and test use the same one, summed.
    criterion = Objective.for_spec(spec, config.label_smoothing)
    eval_criterion = criterion.summed()
    trained = parallel(model, criterion, ranks, device)
    session_start = time.perf_counter()
    base_elapsed = progress.elapsed_s

    def out_of_time() -> bool:
        return time_budget_s is not None and base_elapsed + time.perf_counter() - session_start >= time_budget_s

    def stop_now() -> bool:  # asked for, this session's wall-time cap has passed, or the run's budget
        if should_stop() or out_of_time():
            return True
        return bool(config.max_wall_time_s) and time.perf_counter() - session_start > config.max_wall_time_s

    def checkpoint() -> None:  # every process: the sums saved are the group's
        totals = across(ranks, progress.position.totals)
        progress.elapsed_s = status.train_s = base_elapsed + time.perf_counter() - session_start
        if main:
            saved = replace(progress, position=replace(progress.position, totals=totals))
            save_checkpoint(run_dir, checkpoint_state(model, optimizer, scheduler, saved, global_step()), global_step())

    def log_step(log: StepLog) -> None:
        if not main:
            return
        append_metrics(run_dir, [step_record(log, steps_per_epoch, optimizer.param_groups[0]["lr"])])
        status.step, status.epoch, status.images_per_s = global_step(), log.epoch, log.images_per_s
        status.train_s = base_elapsed + time.perf_counter() - session_start
        status.eta_s = (total_steps - status.step) * config.batch_size / max(log.images_per_s, 1e-9)
        status.heartbeat = time.time()
        if on_log:
            on_log(status)

    while progress.position.epoch < config.epochs:
        position = progress.position
        epoch_start = time.perf_counter()
        finished = train_one_epoch(
            trained,
            train,
            criterion,
            optimizer,
            scheduler,
            config,
            position,
            should_stop=stop_now,
            on_log=log_step,
            on_checkpoint=lambda _: checkpoint(),
            ranks=ranks,
        )
        if not finished:
            checkpoint()
            raise StopRequested(out_of_time())
        epoch_totals = across(ranks, position.totals)
        val_metrics = None
        if len(val.y) and main:
            val_metrics = evaluate(model, val, eval_criterion, splits.num_classes, channels_last=config.channels_last)
        lr = optimizer.param_groups[0]["lr"]
        if main:
            record = epoch_record(
                replace(position, totals=epoch_totals),
                global_step(),
                lr,
                time.perf_counter() - epoch_start,
                val_metrics,
            )
            append_metrics(run_dir, [record])
        if val_metrics:
            best = progress.best_val_acc
            progress.best_val_acc = val_metrics["acc"] if best is None else max(best, val_metrics["acc"])
        progress.position = EpochState(position.epoch + 1, 0, Sums.zeros(device))
        checkpoint()
        status.epoch, status.best_val_acc = progress.position.epoch, progress.best_val_acc
        status.heartbeat = time.time()
        if on_log:
            on_log(status)

    if not main:  # rank 0 tests and writes the results
        return {"test_loss": None, "test_acc": None, "best_val_acc": None, "train_time_s": progress.elapsed_s}
    test_metrics = evaluate(
        model, test, eval_criterion, splits.num_classes, channels_last=config.channels_last, want_probs=True
    )
    probs, predicted = test_metrics.pop("probs"), test_metrics.pop("predicted")
    append_metrics(run_dir, [final_test_record(test_metrics, global_step())])
    save_final_weights(run_dir, model, spec, splits.class_names, mean, std)
    predictions = {  # probabilities as the output layer gives them (objective.py)
        "class_names": splits.class_names,
        "labels": splits.test_y.tolist(),
        "predicted": predicted.tolist(),
        "probs": [[round(p, 5) for p in row] for row in probs.tolist()],
    }
    write_json_atomic(run_dir / "predictions.json", predictions)
    return {
        "test_loss": test_metrics["loss"],
        "test_acc": test_metrics["acc"],
        "best_val_acc": progress.best_val_acc,
        "train_time_s": base_elapsed + time.perf_counter() - session_start,
    }
