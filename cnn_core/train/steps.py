"""The named steps of training, as torchvision's references/classification/train.py has them:
make_model, make_optimizer and make_scheduler build what a run trains; train_one_epoch trains
one epoch (or the rest of one) and evaluate measures a split. Each takes the model, the data (a
DeviceData) and the criterion (an Objective, objective.py: the loss that follows the network's
output layer) as arguments and knows nothing of run directories, so a test or a
benchmark calls it directly; loop.run_training composes them over a run directory.

Every random draw is a pure function of (seed, epoch, step) (see randomness.py), so an epoch
resumed at step k takes exactly the steps an uninterrupted one would have.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnn_core.arch.model import build_model
from cnn_core.train.augment import augment
from cnn_core.train.config import TrainConfig
from cnn_core.train.device_data import DeviceData
from cnn_core.train.distributed import ONE_PROCESS, Ranks
from cnn_core.train.objective import Objective
from cnn_core.train.randomness import epoch_permutation, mix_seed, seed_step
from cnn_core.train.schedules import lr_factor

# ------------------------------------------------------------------ what a run trains


def make_model(spec: dict, seed: int, device: torch.device, channels_last: bool = False) -> nn.Module:
    """The network of spec on device; its initial weights depend on the seed alone."""
    torch.manual_seed(mix_seed(seed, 0xA11CE))
    model = build_model(spec).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


# torchvision's references/classification/utils.py set_weight_decay: its norm_classes
_NORMS = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """The trainable parameters in optimizer groups. With weight decay, biases and normalisation
    parameters get none (as torchvision's references/classification and nanoGPT): decay pulls a
    weight towards zero, which regularises a kernel or a linear map but only shifts a bias or
    rescales a normalised feature. Without weight decay, one group."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not weight_decay:
        return [{"params": params, "weight_decay": 0.0}]
    in_norm = {id(p) for m in model.modules() if isinstance(m, _NORMS) for p in m.parameters(recurse=False)}
    decay = [p for p in params if p.ndim >= 2 and id(p) not in in_norm]
    rest = [p for p in params if p.ndim < 2 or id(p) in in_norm]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(model, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.Adam(groups, lr=config.lr)


def load_optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module, saved: dict) -> None:
    """optimizer.load_state_dict(saved), also for a checkpoint written before biases and
    normalisation parameters had a group of their own (one group, in the model's parameter order):
    each parameter's state moves to its group, the learning rate and the rest come along."""
    if len(saved["param_groups"]) == len(optimizer.param_groups):
        optimizer.load_state_dict(saved)
        return
    old_ids = [i for group in saved["param_groups"] for i in group["params"]]
    position = {id(p): k for k, p in enumerate(p for p in model.parameters() if p.requires_grad)}
    regrouped = optimizer.state_dict()
    settings = {key: value for key, value in saved["param_groups"][0].items() if key not in ("params", "weight_decay")}
    regrouped["state"] = {}
    for live, group in zip(optimizer.param_groups, regrouped["param_groups"], strict=True):
        group.update(settings)
        for param, new_id in zip(live["params"], group["params"], strict=True):
            old_id = old_ids[position[id(param)]]
            if old_id in saved["state"]:
                regrouped["state"][new_id] = saved["state"][old_id]
    optimizer.load_state_dict(regrouped)


def load_scheduler_state(scheduler: torch.optim.lr_scheduler.LRScheduler, saved: dict) -> None:
    """scheduler.load_state_dict(saved), widening a one-group checkpoint's per-group lists (see
    load_optimizer_state) to the optimizer's groups."""
    groups = len(scheduler.optimizer.param_groups)
    saved = dict(saved)
    for key in ("base_lrs", "_last_lr", "lr_lambdas"):
        if isinstance(saved.get(key), list) and len(saved[key]) == 1 and groups > 1:
            saved[key] = saved[key] * groups
    scheduler.load_state_dict(saved)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule, stepped once per training step (not per epoch)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: lr_factor(config.schedule, s, steps_per_epoch, config.epochs, config.step_size, config.gamma),
    )


# ------------------------------------------------------------------ one epoch of training


@dataclass
class Sums:
    """Loss and correct predictions summed over the images seen. They stay on the device: reading
    them back makes the host wait for the device, so that happens only when they are reported."""

    loss: torch.Tensor
    correct: torch.Tensor
    seen: int = 0

    @classmethod
    def zeros(cls, device: torch.device) -> Sums:
        return cls(torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.int64))

    def add(self, loss_sum: torch.Tensor, correct: torch.Tensor, images: int) -> None:
        self.loss += loss_sum
        self.correct += correct
        self.seen += images

    def mean_loss(self) -> float:
        return (self.loss / max(1, self.seen)).item()

    def accuracy(self) -> float:
        return self.correct.item() / max(1, self.seen)


def across(ranks: Ranks, sums: Sums) -> Sums:
    """The sums over every process of a group, as a copy (each process keeps its own); the sums
    themselves with one process."""
    if not ranks.distributed:
        return sums
    loss, correct, seen = ranks.total(sums.loss, sums.correct, torch.tensor(float(sums.seen)))
    return Sums(loss, correct, int(seen.item()))


@dataclass
class EpochState:
    """Where an epoch stands: the next step to take and the sums over the steps taken. Checkpointed,
    so an epoch resumed mid-way still reports the train loss and accuracy of all its steps."""

    epoch: int
    step: int
    totals: Sums


@dataclass
class StepLog:
    """The steps since the previous report, as train_one_epoch reports them."""

    epoch: int
    step: int  # steps of the epoch taken so far
    loss: float
    acc: float
    images_per_s: float


def never() -> bool:
    return False


def scores(criterion: Objective | nn.Module, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What criterion computes the loss on: an Objective's scores (see objective.py), or the
    model's outputs for a plain torch loss such as nn.CrossEntropyLoss."""
    return criterion.scores(model, x) if isinstance(criterion, Objective) else model(x)


def train_one_epoch(
    model: nn.Module,
    data: DeviceData,
    criterion: Objective | nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    state: EpochState,
    should_stop: Callable[[], bool] = never,
    on_log: Callable[[StepLog], None] | None = None,
    on_checkpoint: Callable[[EpochState], None] | None = None,
    ranks: Ranks = ONE_PROCESS,
) -> bool:
    """Train epoch state.epoch from step state.step on, advancing state; True once the epoch is done.

    should_stop() is asked before every step; when it says yes, this returns False at once, state
    at the step not taken. on_log gets the steps since its previous call at most every
    config.log_interval_s, always after the epoch's last step, and after a run's first step. on_checkpoint(state) comes every
    config.checkpoint_interval_s, but never after the last step: the caller checkpoints the end of
    the epoch after validation. Both intervals count from this call, so the caller's time between
    epochs (validation, checkpoint) is neither logged as training nor cuts an interval short.

    In several processes (ranks; model wrapped in DistributedDataParallel) each takes its share of
    every global batch of config.batch_size images, after the augmentation of the whole batch, so
    every draw stays a function of (seed, epoch, step, image) whatever the number of processes. Each
    process's loss is its images' summed loss over the global batch's size, times the number of
    processes: DDP's average of the gradients is then the gradient of the global batch's mean loss.
    One all-reduce per step makes every process stop, log and checkpoint at the same step (rank 0's
    clock decides the intervals), and the logged sums cover every process's images.
    """
    device = data.y.device
    n = len(data.y)
    steps = math.ceil(n / config.batch_size)
    use_amp = config.mixed_precision and device.type == "cuda"
    perm = epoch_permutation(n, config.seed, state.epoch, device)
    window = Sums.zeros(device)
    window_start = last_log = last_checkpoint = time.perf_counter()
    # a run's very first step is logged at once: the live chart gets its first point without waiting an interval
    run_starts_here = state.epoch == 0 and state.step == 0
    several = ranks.distributed
    summed = criterion.summed() if several else None
    stop_next = several and ranks.agree(should_stop())[0]
    model.train()
    while state.step < steps:
        if stop_next if several else should_stop():
            return False
        start = state.step * config.batch_size
        index = perm[start : start + config.batch_size]
        batch_size = len(index)  # the global batch's: the epoch's last one may be smaller
        step_seed = mix_seed(config.seed, state.epoch, state.step)
        # dropout and friends draw from here; each process its own stream
        seed_step(mix_seed(step_seed, ranks.rank) if several else step_seed, device)
        x, y = data.batch(index if config.augment else ranks.shard(index), config.channels_last)
        if config.augment:
            # a generator of its own: the augmentation's draws stay apart from dropout's stream
            x = augment(x, config, torch.Generator(device=device).manual_seed(step_seed ^ 0x5EED))
            x, y = ranks.shard(x), ranks.shard(y)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            # in several processes the model is DDP around ScoresModel: its forward gives the scores
            logits = model(x) if several else scores(criterion, model, x)
            if several:
                loss = summed(logits.float(), y) * (ranks.world / batch_size)
            else:
                loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_grad_norm is not None:
            # exploding gradients: one huge step would wreck the weights; rescaling keeps its direction
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            # this process's summed loss (in several, loss is it scaled by world / batch_size)
            batch_loss = loss.detach() * (batch_size / ranks.world if several else len(y))
            batch_correct = (logits.argmax(1) == y).sum()
        state.totals.add(batch_loss, batch_correct, len(y))
        window.add(batch_loss, batch_correct, len(y))
        state.step += 1
        now = time.perf_counter()
        due = now - last_log >= config.log_interval_s or state.step == steps or (run_starts_here and state.step == 1)
        checkpoint_due = now - last_checkpoint >= config.checkpoint_interval_s and state.step < steps
        if several:  # every process at the same step: rank 0's clock, anyone's stop
            stop_next, due, checkpoint_due = ranks.agree(
                should_stop(), due and ranks.main, checkpoint_due and ranks.main
            )
        if on_log and due:
            shown = across(ranks, window)
            rate = shown.seen / max(1e-9, now - window_start)
            on_log(StepLog(state.epoch, state.step, shown.mean_loss(), shown.accuracy(), rate))
            window = Sums.zeros(device)
            window_start = last_log = now
        if on_checkpoint and checkpoint_due:
            on_checkpoint(state)
            last_checkpoint = now
    return True


# ------------------------------------------------------------------ evaluation


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: DeviceData,
    criterion: Objective | nn.Module,
    num_classes: int,
    batch_size: int = 1024,
    channels_last: bool = False,
    want_probs: bool = False,
) -> dict:
    """Loss, accuracy, per-class accuracy and the confusion matrix (rows: true class) over data.

    criterion must sum over the batch (reduction='sum', Objective.summed()): the batches differ in
    size, so the loss is summed over the whole set and divided once. With want_probs, also every
    image's probabilities (an Objective's, which follow the output layer; a plain torch loss's
    softmax) and predicted class, on the CPU.
    """
    if getattr(criterion, "reduction", "sum") != "sum":
        raise ValueError("evaluate needs a criterion with reduction='sum'")
    was_training = model.training
    model.eval()
    n = len(data.y)
    loss_sum = torch.zeros((), device=data.y.device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=data.y.device)
    probs, predicted = [], []
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(n, start + batch_size), device=data.y.device)
        x, y = data.batch(index, channels_last)
        logits = scores(criterion, model, x).float()
        loss_sum += criterion(logits, y)
        guesses = logits.argmax(1)
        confusion += torch.bincount(y * num_classes + guesses, minlength=num_classes * num_classes)
        if want_probs:
            shown = criterion.probabilities(logits) if isinstance(criterion, Objective) else logits.softmax(1)
            probs.append(shown.cpu())
            predicted.append(guesses.cpu())
    model.train(was_training)
    matrix = confusion.view(num_classes, num_classes).cpu()
    correct = matrix.diag()
    result = {
        "loss": (loss_sum / max(1, n)).item(),
        "acc": (correct.sum() / max(1, n)).item(),
        "per_class_acc": (correct.float() / matrix.sum(1).clamp_min(1).float()).tolist(),
        "confusion": matrix.tolist(),
    }
    if want_probs:
        result["probs"] = torch.cat(probs) if probs else torch.zeros(0, num_classes)
        result["predicted"] = torch.cat(predicted) if predicted else torch.zeros(0, dtype=torch.int64)
    return result
