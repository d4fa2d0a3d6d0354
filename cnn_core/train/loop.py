"""The training loop: train_one_epoch, evaluate, and run_training that drives a run directory.

The fast path the seeds' loops lack: the whole dataset sits on the training device as uint8;
batches are index slices of a per-epoch permutation; normalisation and augmentation (flip,
padded crop, rotation, resized crop) are one batched affine warp on that device; loss and
accuracy accumulate on the device and are read back at most every `log_interval_s`.

Every random draw is a pure function of (seed, epoch, step), so a resumed run, after a stop
or a kill -9, computes exactly what an uninterrupted run would have.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cnn_core.data.loaders import Splits, load_splits
from cnn_core.files import write_json_atomic
from cnn_core.runs.directory import Status
from cnn_core.runs.metrics import append_metrics, truncate_metrics
from cnn_core.train.augment import augment
from cnn_core.train.checkpoints import load_latest_checkpoint, save_checkpoint
from cnn_core.train.config import TrainConfig
from cnn_core.train.device_data import DeviceData, to_device
from cnn_core.train.devices import resolve_device
from cnn_core.train.randomness import _mix, epoch_permutation, seed_step
from cnn_core.train.schedules import lr_factor
from cnn_core.train.weights import save_final_weights


class StopRequested(Exception):
    """Raised inside the loop when a stop was asked for; the run is checkpointed first."""


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: DeviceData,
    num_classes: int,
    batch_size: int = 1024,
    channels_last: bool = False,
    want_probs: bool = False,
) -> dict:
    """Loss, accuracy, per-class accuracy and the confusion matrix (rows: true class)."""
    was_training = model.training
    model.eval()
    n = len(data.y)
    loss_sum = torch.zeros((), device=data.y.device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=data.y.device)
    probs = []
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(n, start + batch_size), device=data.y.device)
        x, y = data.batch(index, channels_last)
        logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        pred = logits.argmax(1)
        confusion += torch.bincount(y * num_classes + pred, minlength=num_classes * num_classes)
        if want_probs:
            probs.append(logits.softmax(1).cpu())
    model.train(was_training)
    matrix = confusion.view(num_classes, num_classes).cpu()
    correct = matrix.diag()
    per_class = (correct.float() / matrix.sum(1).clamp_min(1).float()).tolist()
    result = {
        "loss": (loss_sum / max(1, n)).item(),
        "acc": (correct.sum() / max(1, n)).item(),
        "per_class_acc": per_class,
        "confusion": matrix.tolist(),
    }
    if want_probs:
        result["probs"] = torch.cat(probs) if probs else torch.zeros(0, num_classes)
    return result


@dataclass
class Progress:
    """What the loop reports outward: to status.json and metrics.jsonl."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    elapsed_s: float = 0.0  # training time over all sessions of this run
    best_val_acc: float | None = None


def run_training(
    run_dir: Path,
    config: TrainConfig,
    should_stop: Callable[[], bool],
    status: Status,
    on_log: Callable[[Status], None] | None = None,
) -> dict:
    """Train (or resume) the run in run_dir to completion; raise StopRequested after a stop.

    Returns the final test metrics. Writes metrics, checkpoints, weights and predictions.
    """
    from cnn_core.arch.model import build_model

    device = resolve_device(config.device)
    torch.backends.cudnn.benchmark = not config.deterministic
    if config.deterministic:
        torch.backends.cudnn.deterministic = True
    splits: Splits = load_splits(
        config.dataset, config.val_split, config.seed, config.data_dir, config.folder_path, config.image_size
    )
    spec = config.architecture(splits.input_shape, splits.num_classes)
    torch.manual_seed(_mix(config.seed, 0xA11CE))  # initial weights depend on the seed only
    model = build_model(spec).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    mean, std = splits.channel_stats()
    train = to_device(splits.train_x, splits.train_y, mean, std, device)
    val = to_device(splits.val_x, splits.val_y, mean, std, device)
    test = to_device(splits.test_x, splits.test_y, mean, std, device)
    write_json_atomic(
        run_dir / "dataset.json",
        {
            "name": splits.name,
            "class_names": splits.class_names,
            "input_shape": list(splits.input_shape),
            "mean": mean,
            "std": std,
            "train": len(splits.train_y),
            "val": len(splits.val_y),
            "test": len(splits.test_y),
            "skipped_files": splits.skipped_files,
        },
    )
    write_json_atomic(run_dir / "spec.json", spec)

    n = len(train.y)
    steps_per_epoch = math.ceil(n / config.batch_size)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: lr_factor(config.schedule, s, steps_per_epoch, config.epochs, config.step_size, config.gamma),
    )
    progress = Progress()
    acc_loss = torch.zeros((), device=device)  # epoch accumulators, checkpointed for exact resume
    acc_correct = torch.zeros((), device=device, dtype=torch.int64)
    acc_seen = 0
    state, _ = load_latest_checkpoint(run_dir)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        progress = Progress(
            int(state["epoch"]),
            int(state["step_in_epoch"]),
            int(state["global_step"]),
            float(state["elapsed_s"]),
            state.get("best_val_acc"),
        )
        acc_loss = state["acc_loss"].to(device)
        acc_correct = state["acc_correct"].to(device)
        acc_seen = int(state["acc_seen"])
        if "rng_cpu" in state:
            torch.set_rng_state(state["rng_cpu"])
    truncate_metrics(run_dir, progress.global_step, progress.epoch)

    def checkpoint() -> None:
        save_checkpoint(
            run_dir,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": progress.epoch,
                "step_in_epoch": progress.step_in_epoch,
                "global_step": progress.global_step,
                "elapsed_s": progress.elapsed_s,
                "best_val_acc": progress.best_val_acc,
                "acc_loss": acc_loss.detach().cpu(),
                "acc_correct": acc_correct.cpu(),
                "acc_seen": acc_seen,
                "rng_cpu": torch.get_rng_state(),
            },
            progress.global_step,
        )

    total_steps = config.epochs * steps_per_epoch
    status.epochs, status.total_steps, status.device = config.epochs, total_steps, str(device)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    use_amp = config.mixed_precision and device.type == "cuda"
    session_start = time.perf_counter()
    base_elapsed = progress.elapsed_s
    last_log = last_ckpt = session_start
    log_loss = torch.zeros((), device=device)
    log_correct = torch.zeros((), device=device, dtype=torch.int64)
    log_seen, log_time_start = 0, session_start
    model.train()
    while progress.epoch < config.epochs:
        perm = epoch_permutation(n, config.seed, progress.epoch, device)
        epoch_start = time.perf_counter()
        while progress.step_in_epoch < steps_per_epoch:
            if should_stop() or (
                config.max_wall_time_s and time.perf_counter() - session_start > config.max_wall_time_s
            ):
                progress.elapsed_s = base_elapsed + time.perf_counter() - session_start
                checkpoint()
                raise StopRequested()
            start = progress.step_in_epoch * config.batch_size
            index = perm[start : start + config.batch_size]
            step_seed = _mix(config.seed, progress.epoch, progress.step_in_epoch)
            seed_step(step_seed, device)  # dropout and friends: reproducible per step
            x, y = train.batch(index, config.channels_last)
            if config.augment:
                gen = torch.Generator(device=device).manual_seed(step_seed ^ 0x5EED)
                x = augment(x, config, gen)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(x)
                loss = criterion(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                batch_loss = loss.detach() * len(y)
                batch_correct = (logits.argmax(1) == y).sum()
                acc_loss += batch_loss
                acc_correct += batch_correct
                log_loss += batch_loss
                log_correct += batch_correct
            acc_seen += len(y)
            log_seen += len(y)
            progress.step_in_epoch += 1
            progress.global_step += 1
            now = time.perf_counter()
            if now - last_log >= config.log_interval_s or progress.step_in_epoch == steps_per_epoch:
                rate = log_seen / max(1e-9, now - log_time_start)
                append_metrics(
                    run_dir,
                    [
                        {
                            "kind": "step",
                            "step": progress.global_step,
                            "epoch": progress.epoch + progress.step_in_epoch / steps_per_epoch,
                            "loss": (log_loss / max(1, log_seen)).item(),
                            "acc": log_correct.item() / max(1, log_seen),
                            "lr": optimizer.param_groups[0]["lr"],
                            "images_per_s": rate,
                            "time": time.time(),
                        }
                    ],
                )
                log_loss.zero_()
                log_correct.zero_()
                log_seen, log_time_start, last_log = 0, now, now
                status.step, status.epoch, status.images_per_s = progress.global_step, progress.epoch, rate
                status.eta_s = (total_steps - progress.global_step) * config.batch_size / max(rate, 1e-9)
                status.heartbeat = time.time()
                if on_log:
                    on_log(status)
            if now - last_ckpt >= config.checkpoint_interval_s and progress.step_in_epoch < steps_per_epoch:
                progress.elapsed_s = base_elapsed + now - session_start
                checkpoint()
                last_ckpt = now
        # epoch end: validation, an epoch record, a checkpoint
        val_metrics = (
            evaluate(model, val, splits.num_classes, channels_last=config.channels_last) if len(val.y) else None
        )
        epoch_time = time.perf_counter() - epoch_start
        record = {
            "kind": "epoch",
            "epoch": progress.epoch + 1,
            "step": progress.global_step,
            "train_loss": (acc_loss / max(1, acc_seen)).item(),
            "train_acc": acc_correct.item() / max(1, acc_seen),
            "lr": optimizer.param_groups[0]["lr"],
            "epoch_time_s": epoch_time,
            "time": time.time(),
        }
        if val_metrics:
            record.update(
                val_loss=val_metrics["loss"],
                val_acc=val_metrics["acc"],
                per_class_acc=val_metrics["per_class_acc"],
                confusion=val_metrics["confusion"],
            )
            best = progress.best_val_acc
            progress.best_val_acc = val_metrics["acc"] if best is None else max(best, val_metrics["acc"])
        append_metrics(run_dir, [record])
        progress.epoch += 1
        progress.step_in_epoch = 0
        acc_loss.zero_()
        acc_correct.zero_()
        acc_seen = 0
        progress.elapsed_s = base_elapsed + time.perf_counter() - session_start
        checkpoint()
        # validation and the checkpoint are not training: keep them out of the next images/s
        last_ckpt = log_time_start = time.perf_counter()
        status.epoch, status.best_val_acc, status.heartbeat = progress.epoch, progress.best_val_acc, time.time()
        if on_log:
            on_log(status)

    result = evaluate(model, test, splits.num_classes, channels_last=config.channels_last, want_probs=True)
    probs = result.pop("probs")
    append_metrics(
        run_dir,
        [
            {
                "kind": "test",
                "step": progress.global_step,
                "test_loss": result["loss"],
                "test_acc": result["acc"],
                "per_class_acc": result["per_class_acc"],
                "confusion": result["confusion"],
                "time": time.time(),
            }
        ],
    )
    save_final_weights(run_dir, model, spec, splits.class_names, mean, std)
    write_json_atomic(
        run_dir / "predictions.json",
        {
            "class_names": splits.class_names,
            "labels": splits.test_y.tolist(),
            "predicted": probs.argmax(1).tolist(),
            "probs": [[round(p, 5) for p in row] for row in probs.tolist()],
        },
    )
    return {
        "test_loss": result["loss"],
        "test_acc": result["acc"],
        "best_val_acc": progress.best_val_acc,
        "train_time_s": base_elapsed + time.perf_counter() - session_start,
    }
