"""The named training steps against oracles: evaluate against a direct computation over the whole
set, train_one_epoch resumed at step k against the tail of an uninterrupted epoch, its stop and
its logging and checkpoint cadence (on a fake clock), and run_training against train_one_epoch
composed by hand. Tiny network, embedded digits data, one thread: a few seconds on the CPU."""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from cnn_core.data.loaders import load_splits
from cnn_core.files import read_json
from cnn_core.runs.directory import Status
from cnn_core.runs.metrics import read_metrics
from cnn_core.train import steps as steps_module
from cnn_core.train.checkpoints import checkpoint_dir
from cnn_core.train.device_data import to_device
from cnn_core.train.devices import use_channels_last
from cnn_core.train.loop import StopRequested, run_training
from cnn_core.train.objective import Objective
from cnn_core.train.randomness import epoch_permutation
from cnn_core.train.steps import (
    EpochState,
    Sums,
    evaluate,
    load_optimizer_state,
    load_scheduler_state,
    make_model,
    make_optimizer,
    make_scheduler,
    train_one_epoch,
)
from tests.conftest import TINY_SPEC, one_torch_thread, tiny_config

CPU = torch.device("cpu")
# TINY_SPEC with dropout, so every step draws random numbers besides the augmentation's.
DROPOUT_SPEC = {
    **TINY_SPEC,
    "layers": [*TINY_SPEC["layers"][:3], {"type": "dropout", "p": 0.3}, TINY_SPEC["layers"][3]],
}
# Every per-step random draw in play: shuffling, dropout and all four augmentations.
RANDOM_CONFIG = dict(
    spec=DROPOUT_SPEC,
    augment=["hflip", "crop", "rotate", "resized_crop"],
    label_smoothing=0.1,
    optimizer="sgd",
    schedule="cosine",
    epochs=2,
)


@pytest.fixture(autouse=True)
def single_thread():
    with one_torch_thread():
        yield


class Setup:
    """What run_training builds before its first epoch, built by hand from the same config."""

    def __init__(self, config):
        # the memory format run_training picks for the device when the config leaves it open
        config = replace(config, channels_last=use_channels_last(config.channels_last, CPU, config.mixed_precision))
        self.config = config
        splits = load_splits(
            config.dataset, config.val_split, config.seed, config.data_dir, config.folder_path, config.image_size
        )
        self.splits = splits
        self.spec = config.architecture(splits.input_shape, splits.num_classes)
        self.model = make_model(self.spec, config.seed, CPU, config.channels_last)
        mean, std = splits.channel_stats()
        self.train = to_device(splits.train_x, splits.train_y, mean, std, CPU)
        self.val = to_device(splits.val_x, splits.val_y, mean, std, CPU)
        self.test = to_device(splits.test_x, splits.test_y, mean, std, CPU)
        self.steps_per_epoch = math.ceil(len(self.train.y) / config.batch_size)
        self.optimizer = make_optimizer(self.model, config)
        self.scheduler = make_scheduler(self.optimizer, config, self.steps_per_epoch)
        self.criterion = Objective.for_spec(self.spec, config.label_smoothing)

    def epoch(self, state: EpochState, **kwargs) -> bool:
        args = (self.model, self.train, self.criterion, self.optimizer, self.scheduler, self.config, state)
        return train_one_epoch(*args, **kwargs)

    def copy_into(self, other: Setup) -> None:
        """other takes over this setup's model, optimizer and scheduler state, as a resume does."""
        other.model.load_state_dict(copy.deepcopy(self.model.state_dict()))
        other.optimizer.load_state_dict(copy.deepcopy(self.optimizer.state_dict()))
        other.scheduler.load_state_dict(copy.deepcopy(self.scheduler.state_dict()))


def fresh_state(epoch: int = 0) -> EpochState:
    return EpochState(epoch, 0, Sums.zeros(CPU))


def stop_after(calls: int):
    """A should_stop that says yes on its (calls + 1)-th question, i.e. after `calls` steps."""
    counter = itertools.count()
    return lambda: next(counter) >= calls


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs"


# ------------------------------------------------------------------ evaluate


def test_evaluate_equals_a_direct_computation(runs_root):
    setup = Setup(tiny_config())
    setup.epoch(fresh_state())  # trained a little, so the predictions are not all one class
    model, data, classes = setup.model, setup.test, setup.splits.num_classes
    model.train()
    # batches of 100: the last one is smaller, so the sum-then-divide matters
    result = evaluate(model, data, nn.CrossEntropyLoss(reduction="sum"), classes, batch_size=100, want_probs=True)
    assert model.training, "evaluate should leave the model in the mode it found it in"

    model.eval()
    with torch.no_grad():
        x, y = data.batch(torch.arange(len(data.y)))
        logits = model(x)
    predicted = logits.argmax(1)
    confusion = [[0] * classes for _ in range(classes)]
    for true, guess in zip(y.tolist(), predicted.tolist(), strict=True):
        confusion[true][guess] += 1
    assert result["confusion"] == confusion
    assert result["acc"] == pytest.approx((predicted == y).float().mean().item(), abs=1e-7)
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    for c in range(classes):
        expected = confusion[c][c] / max(1, sum(confusion[c]))
        assert result["per_class_acc"][c] == pytest.approx(expected, abs=1e-7)
    assert torch.allclose(result["probs"], logits.softmax(1), atol=1e-6)


def test_evaluate_needs_a_summing_criterion(runs_root):
    setup = Setup(tiny_config())
    with pytest.raises(ValueError, match="reduction='sum'"):
        evaluate(setup.model, setup.val, nn.CrossEntropyLoss(), setup.splits.num_classes)


# ------------------------------------------------------------------ train_one_epoch


def test_epoch_resumed_at_step_k_equals_the_tail_of_a_whole_epoch(runs_root):
    config = tiny_config(**RANDOM_CONFIG)
    whole = Setup(config)
    whole_state = fresh_state()
    assert whole.epoch(whole_state) is True
    assert whole_state.step == whole.steps_per_epoch

    for k in (1, 9):
        first = Setup(config)
        state = fresh_state()
        assert first.epoch(state, should_stop=stop_after(k)) is False
        assert state.step == k
        # a fresh copy, as a resume from a checkpoint taken at step k builds it
        rest = Setup(config)
        first.copy_into(rest)
        resumed = EpochState(0, k, Sums(state.totals.loss.clone(), state.totals.correct.clone(), state.totals.seen))
        assert rest.epoch(resumed) is True
        assert_same_weights(rest.model.state_dict(), whole.model.state_dict())
        assert resumed.step == whole_state.step
        assert resumed.totals.seen == whole_state.totals.seen == len(whole.train.y)
        assert torch.equal(resumed.totals.loss, whole_state.totals.loss)
        assert torch.equal(resumed.totals.correct, whole_state.totals.correct)


def test_a_stop_request_is_honoured_before_the_next_step(runs_root):
    config = tiny_config()
    setup = Setup(config)
    before = copy.deepcopy(setup.model.state_dict())
    state = fresh_state()
    assert setup.epoch(state, should_stop=lambda: True) is False
    assert state.step == 0 and state.totals.seen == 0
    assert_same_weights(setup.model.state_dict(), before)

    asked = []

    def should_stop():
        asked.append(state.step)
        return len(asked) > 5

    assert setup.epoch(state, should_stop=should_stop) is False
    assert asked == [0, 1, 2, 3, 4, 5], "asked once before every step"
    assert state.step == 5 and setup.scheduler.last_epoch == 5  # five optimizer and scheduler steps
    assert state.totals.seen == 5 * config.batch_size


class FakeClock:
    """time.perf_counter for train_one_epoch: every reading is `tick` seconds after the previous."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now


def test_log_and_checkpoint_cadence(runs_root, monkeypatch):
    # a step takes 0.25 s on the fake clock (one reading at the start, one after every step):
    # logs every 0.5 s are every 2 steps, checkpoints every 1 s every 4 steps
    config = tiny_config(log_interval_s=0.5, checkpoint_interval_s=1.0)
    setup = Setup(config)
    steps = setup.steps_per_epoch
    assert steps % 2 == 1, "the forced log after an odd last step is part of the test"
    monkeypatch.setattr(steps_module, "time", FakeClock(0.25))
    logs, checkpoints = [], []
    state = fresh_state()
    setup.epoch(state, on_log=logs.append, on_checkpoint=lambda s: checkpoints.append((s.step, s.totals.seen)))

    # the run's first step at once (the live chart's first point), then every 2 steps, and always after the last
    assert [log.step for log in logs] == [1, *range(3, steps, 2), steps]
    assert all(log.epoch == 0 for log in logs)
    assert checkpoints == [(s, s * config.batch_size) for s in range(4, steps, 4)]  # never after the last step
    # the windows split the epoch: their images and summed loss add up to the epoch's
    sizes = [min(log.step * config.batch_size, len(setup.train.y)) for log in logs]
    images = [b - a for a, b in zip([0, *sizes], sizes, strict=False)]
    assert sum(images) == state.totals.seen
    assert sum(log.loss * n for log, n in zip(logs, images, strict=True)) / state.totals.seen == pytest.approx(
        state.totals.mean_loss(), rel=1e-5
    )
    window_steps = [b - a for a, b in zip([0, *[log.step for log in logs]], [log.step for log in logs], strict=False)]
    for log, n, k in zip(logs, images, window_steps, strict=True):
        assert log.images_per_s == pytest.approx(n / (0.25 * k))  # the window's images over its time


def test_one_log_per_epoch_when_the_interval_is_long(runs_root):
    config = tiny_config(log_interval_s=60.0)
    setup = Setup(config)
    logs = []
    state = fresh_state(1)  # not the run's first epoch, whose first step is logged at once
    setup.epoch(state, on_log=logs.append)
    # no wall-clock assertion: a step taking 60 s on a loaded machine would add a log; then the
    # last one still covers the rest of the epoch
    assert logs[-1].step == setup.steps_per_epoch
    if len(logs) == 1:
        assert logs[0].loss == state.totals.mean_loss() and logs[0].acc == state.totals.accuracy()


# ------------------------------------------------------------------ gradient clipping


def after_one_step(config) -> tuple[Setup, nn.Module]:
    """A setup after train_one_epoch's first step, and a copy of its model from before that step."""
    setup = Setup(config)
    before = copy.deepcopy(setup.model)
    assert setup.epoch(fresh_state(), should_stop=stop_after(1)) is False
    return setup, before


def test_a_clipped_step_equals_the_step_clipped_by_hand(runs_root):
    # SGD, whose first step is lr × gradient: the clipping shows in the weights (Adam's first step
    # divides the gradient's scale away)
    config = tiny_config(optimizer="sgd", lr=0.1, clip_grad_norm=0.01)
    setup, model = after_one_step(config)

    index = epoch_permutation(len(setup.train.y), config.seed, 0, CPU)[: config.batch_size]
    x, y = setup.train.batch(index, setup.config.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    model.train()
    F.cross_entropy(model(x), y).backward()
    total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
    assert total_norm > 10 * config.clip_grad_norm, "the gradients must really be clipped here"
    optimizer.step()
    for (name, got), want in zip(setup.model.named_parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(got, want, msg=name)

    unclipped, _ = after_one_step(replace(config, clip_grad_norm=None))
    assert any(
        not torch.allclose(a, b) for a, b in zip(unclipped.model.parameters(), setup.model.parameters(), strict=True)
    ), "clipping made no difference: the test would not see it missing"


def test_clipping_to_a_norm_never_reached_changes_nothing(runs_root):
    config = tiny_config(**RANDOM_CONFIG, clip_grad_norm=1e6)
    clipped, plain = Setup(config), Setup(replace(config, clip_grad_norm=None))
    assert clipped.epoch(fresh_state()) is True and plain.epoch(fresh_state()) is True
    for (name, got), want in zip(clipped.model.named_parameters(), plain.model.parameters(), strict=True):
        torch.testing.assert_close(got, want, msg=name)


# ------------------------------------------------------------------ run_training


def test_run_training_equals_the_steps_composed_by_hand(runs_root, tmp_path):
    config = tiny_config(**RANDOM_CONFIG)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_training(run_dir, config, lambda: False, Status())

    setup = Setup(config)
    eval_criterion = setup.criterion.summed()
    records = [r for r in read_metrics(run_dir) if r["kind"] == "epoch"]
    checkpoints = sorted(checkpoint_dir(run_dir).glob("ckpt-*.pt"))
    assert len(checkpoints) == 2 == config.epochs  # one per epoch end, both kept
    for epoch, record, checkpoint in zip(range(config.epochs), records, checkpoints, strict=True):
        state = fresh_state(epoch)
        assert setup.epoch(state) is True
        saved = torch.load(checkpoint, weights_only=True)
        assert saved["epoch"] == epoch + 1 and saved["step_in_epoch"] == 0
        assert saved["global_step"] == (epoch + 1) * setup.steps_per_epoch
        assert_same_weights(saved["model"], setup.model.state_dict())
        assert record["step"] == saved["global_step"]
        assert record["train_loss"] == state.totals.mean_loss()
        assert record["train_acc"] == state.totals.accuracy()
        val = evaluate(
            setup.model, setup.val, eval_criterion, setup.splits.num_classes, channels_last=setup.config.channels_last
        )
        assert (record["val_loss"], record["val_acc"], record["confusion"]) == (
            val["loss"],
            val["acc"],
            val["confusion"],
        )

    assert_same_weights(load_file(str(run_dir / "model.safetensors")), setup.model.state_dict())
    test = evaluate(
        setup.model, setup.test, eval_criterion, setup.splits.num_classes, channels_last=setup.config.channels_last
    )
    assert (result["test_loss"], result["test_acc"]) == (test["loss"], test["acc"])


def test_run_training_stopped_mid_epoch_resumes_to_the_same_weights(runs_root, tmp_path):
    config = tiny_config(**RANDOM_CONFIG)
    reference = tmp_path / "reference"
    reference.mkdir()
    run_training(reference, config, lambda: False, Status())

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for stop_at in (5, 30):  # mid first epoch, then mid second (the count restarts each session)
        with pytest.raises(StopRequested):
            run_training(run_dir, config, stop_after(stop_at), Status())
    run_training(run_dir, config, lambda: False, Status())
    assert_same_weights(load_file(str(run_dir / "model.safetensors")), load_file(str(reference / "model.safetensors")))
    records = read_metrics(run_dir)
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]
    reference_epochs = [r for r in read_metrics(reference) if r["kind"] == "epoch"]
    for got, want in zip([r for r in records if r["kind"] == "epoch"], reference_epochs, strict=True):
        assert (got["train_loss"], got["train_acc"], got["val_loss"]) == (
            want["train_loss"],
            want["train_acc"],
            want["val_loss"],
        )


def test_validation_and_test_loss_use_the_training_criterion(runs_root, tmp_path):
    """With label smoothing, the validation and test losses are the smoothed cross-entropy that
    training minimises (so the curves overlaid on the loss chart measure the same thing), computed
    here directly from the saved weights."""
    config = tiny_config(label_smoothing=0.2, epochs=1)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_training(run_dir, config, lambda: False, Status())
    setup = Setup(config)
    setup.model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    setup.model.eval()
    [record] = [r for r in read_metrics(run_dir) if r["kind"] == "epoch"]
    for split, loss in ((setup.val, record["val_loss"]), (setup.test, result["test_loss"])):
        with torch.no_grad():
            x, y = split.batch(torch.arange(len(split.y)))
            logits = setup.model(x)
        assert loss == pytest.approx(F.cross_entropy(logits, y, label_smoothing=0.2).item(), rel=1e-5)
        assert loss != pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-3)


# ------------------------------------------------------------------ weight decay


NORM_SPEC = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2},
        {"type": "batchnorm2d"},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "linear", "out_features": 16},
        {"type": "batchnorm1d"},
        {"type": "linear", "out_features": 10, "bias": False},
    ],
}


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_no_weight_decay_on_biases_and_normalisation(runs_root, optimizer):
    config = tiny_config(spec=NORM_SPEC, optimizer=optimizer, weight_decay=0.05)
    model = make_model(NORM_SPEC, 0, CPU)
    opt = make_optimizer(model, config)
    named = dict(model.named_parameters())
    groups = {
        group["weight_decay"]: {name for name, p in named.items() if any(p is q for q in group["params"])}
        for group in opt.param_groups
    }
    assert groups == {
        0.05: {"0.weight", "4.weight", "6.weight"},  # the kernels and linear maps
        0.0: {"0.bias", "1.weight", "1.bias", "4.bias", "5.weight", "5.bias"},  # biases, batch norm
    }
    assert sum(len(g["params"]) for g in opt.param_groups) == len(named)  # each parameter once

    # what the groups do: one step with zero gradients moves only the decayed weights
    before = {name: p.detach().clone() for name, p in named.items()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in named.items():
        assert torch.equal(p, before[name]) == (name not in groups[0.05]), name


def test_without_weight_decay_one_group_as_before(runs_root):
    model = make_model(NORM_SPEC, 0, CPU)
    opt = make_optimizer(model, tiny_config(spec=NORM_SPEC, weight_decay=0.0))
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["weight_decay"] == 0.0
    assert len(opt.param_groups[0]["params"]) == len(list(model.parameters()))


def test_a_frozen_backbone_has_no_parameters_to_decay(runs_root):
    spec = {"input_shape": [3, 32, 32], "num_classes": 10, "backbone": {"name": "resnet18", "pretrained": False}}
    model = make_model(spec, 0, CPU)
    opt = make_optimizer(model, tiny_config(dataset="shapes", spec=spec, weight_decay=0.1))
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(len(g["params"]) for g in opt.param_groups) == len(trainable) == 2  # the new head
    assert [len(g["params"]) for g in opt.param_groups] == [1, 1]  # its weight decays, its bias does not


def test_a_checkpoint_with_one_group_still_resumes(runs_root):
    """A run checkpointed before biases had a group of their own (one Adam group with weight decay):
    every parameter's moments, the step count and the learning rate come back in the new groups."""
    config = tiny_config(spec=NORM_SPEC, weight_decay=0.05, schedule="cosine")
    model = make_model(NORM_SPEC, 0, CPU)
    old = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    old_scheduler = torch.optim.lr_scheduler.LambdaLR(old, lambda s: 0.5**s)
    for _ in range(2):
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        old.step()
        old_scheduler.step()
    saved, saved_scheduler = copy.deepcopy(old.state_dict()), copy.deepcopy(old_scheduler.state_dict())

    new = make_optimizer(model, config)
    scheduler = make_scheduler(new, config, 10)
    load_optimizer_state(new, model, saved)
    load_scheduler_state(scheduler, saved_scheduler)
    assert len(new.param_groups) == 2
    for p in model.parameters():
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(new.state[p][key], old.state[p][key]), key
    assert [g["lr"] for g in new.param_groups] == [old.param_groups[0]["lr"]] * 2
    assert [g["weight_decay"] for g in new.param_groups] == [0.05, 0.0]
    assert scheduler.last_epoch == 2 and scheduler.base_lrs == [config.lr] * 2
    scheduler.step()  # and it carries on


def test_the_memory_format_is_chosen_for_the_device_and_changes_only_the_rounding(runs_root, tmp_path):
    """channels_last None (the default) is channels-last on the CPU (faster there, see the benchmarks'
    README), on CUDA only with mixed precision, never on MPS; an explicit value is kept. The two
    formats train the same network: the weights agree to float32 rounding."""
    cuda, mps = torch.device("cuda"), torch.device("mps")
    assert use_channels_last(None, CPU, False) and use_channels_last(None, cuda, True)
    assert not use_channels_last(None, cuda, False) and not use_channels_last(None, mps, True)
    assert not use_channels_last(False, CPU, False) and use_channels_last(True, mps, False)
    weights, formats = {}, {}
    for chosen in (None, False):
        run_dir = tmp_path / str(chosen)
        run_dir.mkdir()
        run_training(run_dir, tiny_config(channels_last=chosen), lambda: False, Status())
        weights[chosen] = load_file(str(run_dir / "model.safetensors"))
        formats[chosen] = read_json(run_dir / "environment.json")["sessions"][-1]["memory_format"]
    assert formats == {None: "channels_last", False: "contiguous"}
    for name, value in weights[False].items():
        torch.testing.assert_close(weights[None][name], value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("normalization", ["dataset", "half"])
def test_batches_are_normalised_as_torchvisions_normalize_does(normalization):
    from torchvision.transforms.v2 import functional as TF

    from cnn_core.train.device_data import normalization_stats

    splits = load_splits("digits", 0.1, 0)
    mean, std = normalization_stats(normalization, splits)
    if normalization == "half":
        assert (mean, std) == ([0.5], [0.5])  # seed 000's transforms.Normalize((0.5, …), (0.5, …))
    else:
        assert (mean, std) == splits.channel_stats()
    data = to_device(splits.train_x, splits.train_y, mean, std, CPU)
    index = torch.arange(40)
    x, _ = data.batch(index)
    expected = TF.normalize(splits.train_x[:40].float() / 255, mean, std)
    torch.testing.assert_close(x, expected, rtol=1e-5, atol=1e-5)
    if normalization == "half":
        assert x.min() == pytest.approx(-1.0, abs=1e-6) and x.max() == pytest.approx(1.0, abs=1e-6)  # 0 and 255


def test_a_half_normalised_run_records_its_constants(runs_root):
    config = tiny_config(epochs=1, normalization="half")
    run_dir = runs_root / "half"
    run_dir.mkdir()
    run_training(run_dir, config, lambda: False, Status())
    dataset = read_json(run_dir / "dataset.json")
    assert (dataset["mean"], dataset["std"]) == ([0.5], [0.5])  # what the look-inside pages normalise with
