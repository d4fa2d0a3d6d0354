"""The Train page's time per epoch (cnn_core.train.estimate): its arithmetic with an injected clock,
what it depends on, and the measuring process. No wall-clock assertion: how close the estimate
comes to a real epoch is measured in benchmarks/bench_estimate.py."""

import math

import pytest

from cnn_core.arch.model import build_model
from cnn_core.arch.presets import preset_spec
from cnn_core.errors import CnnLabError
from cnn_core.train import estimate as E
from cnn_core.train.config import TrainConfig
from tests.conftest import TINY_SPEC, one_torch_thread

DIGITS = dict(input_shape=(1, 28, 28), num_classes=10, train_size=1293, val_size=144)


def request(config: TrainConfig, **sizes) -> dict:
    args = {**DIGITS, **sizes}
    return E.estimate_request(config, args["input_shape"], args["num_classes"], args["train_size"], args["val_size"])


class TickClock:
    """A clock that advances by `tick` seconds at every reading."""

    def __init__(self, tick: float):
        self.tick, self.now, self.readings = tick, 0.0, 0

    def __call__(self) -> float:
        self.now += self.tick
        self.readings += 1
        return self.now


def tiny(**overrides) -> TrainConfig:
    return TrainConfig(**{"spec": TINY_SPEC, "preset": None, "device": "cpu", **overrides})


@pytest.mark.parametrize(
    ("tick", "measured"),
    [
        (0.001, E.MAX_MEASURE_STEPS),  # fast steps: the step cap ends the measurement
        (0.125, math.ceil(E.MIN_MEASURE_S / 0.125)),  # slow steps: the time floor does (0.125: exact in binary)
    ],
)
def test_estimate_is_the_measured_step_times_the_steps_plus_the_validation_pass(tick, measured):
    clock = TickClock(tick)
    with one_torch_thread():
        estimate = E.estimate_epoch(request(tiny(batch_size=32)), clock)
    assert estimate.measured_steps == measured
    assert estimate.step_s == pytest.approx(tick)  # one reading per step (train_one_epoch's should_stop)
    assert estimate.steps == math.ceil(1293 / 32) == 41
    # the validation pass: two readings around one evaluate() of the 144 validation images
    assert estimate.val_s == pytest.approx(tick)
    assert estimate.epoch_s == pytest.approx(tick * 41 + tick)
    warmup_and_steps = E.WARMUP_STEPS + measured + 1
    assert clock.readings == warmup_and_steps + 2


def test_a_moment_when_another_process_takes_the_cpu_does_not_count():
    clock = TickClock(0.001)
    readings = E.WARMUP_STEPS + 5

    def with_a_stall() -> float:
        if clock.readings == readings:
            clock.now += 2.0  # one step stalled for two seconds
        return clock()

    with one_torch_thread():
        estimate = E.estimate_epoch(request(tiny()), with_a_stall)
    assert estimate.step_s == pytest.approx(0.001)  # the median step


def test_estimate_scales_the_validation_pass_it_times_on_at_most_one_evaluation_batch():
    with one_torch_thread():
        estimate = E.estimate_epoch(request(tiny(), train_size=60_000, val_size=6_000), TickClock(0.001))
    assert estimate.steps == math.ceil(60_000 / 32)
    assert estimate.val_s == pytest.approx(0.001 * 6_000 / E.EVAL_BATCH)


def test_estimate_keeps_measuring_across_epochs_of_a_small_training_set():
    with one_torch_thread():
        estimate = E.estimate_epoch(request(tiny(batch_size=8), train_size=20, val_size=0), TickClock(0.001))
    assert estimate.steps == 3  # 20 images in batches of 8
    assert estimate.measured_steps == E.MAX_MEASURE_STEPS  # over several epochs of 3 steps
    assert estimate.val_s == 0


def test_estimate_measures_the_network_and_device_it_is_asked_for():
    with one_torch_thread():
        tiny_estimate = E.estimate_epoch(request(tiny(device="auto")), TickClock(0.001))
        seed002 = E.estimate_epoch(request(TrainConfig(device="cpu")), TickClock(0.001))
    oracle = sum(p.numel() for p in build_model(TINY_SPEC).parameters())
    assert tiny_estimate.params == oracle
    assert seed002.params == sum(p.numel() for p in build_model(preset_spec("seed002_mnist_cnn")).parameters())
    assert tiny_estimate.device == seed002.device == "cpu"  # 'auto' resolves as the worker resolves it


def test_estimate_request_follows_what_the_time_depends_on_and_nothing_else():
    base = request(TrainConfig())
    changed = {
        "network": request(TrainConfig(preset="lenet5")),
        "batch size": request(TrainConfig(batch_size=64)),
        "device": request(TrainConfig(device="cpu")),
        "augmentation": request(TrainConfig(augment=["crop"])),
        "optimizer": request(TrainConfig(optimizer="sgd")),
        "validation split": request(TrainConfig(), train_size=1000, val_size=437),
    }
    for what, other in changed.items():
        assert other != base, f"a change of {what} must give a new estimate"
    for same in (TrainConfig(epochs=7), TrainConfig(lr=0.01), TrainConfig(seed=3), TrainConfig(name="x")):
        assert request(same) == base  # the cached estimate still holds


def test_estimate_request_times_a_backbone_without_its_pretrained_weights():
    config = TrainConfig(preset="resnet18_transfer")
    spec = request(config, input_shape=(3, 32, 32))["spec"]
    assert spec["backbone"]["pretrained"] is False  # nothing is downloaded to time it
    assert spec["backbone"]["freeze_backbone"] is True  # the steps are those the run takes


def test_estimate_in_a_subprocess_takes_the_workers_thread_count(monkeypatch):
    monkeypatch.setenv("CNN_LAB_WORKER_THREADS", "1")
    estimate = E.estimate_in_subprocess(request(tiny()))
    assert estimate.threads == 1
    assert estimate.epoch_s > 0 and estimate.measured_steps >= E.MIN_STEPS
    assert estimate.params == sum(p.numel() for p in build_model(TINY_SPEC).parameters())


def test_a_failed_measurement_is_an_error_for_the_user():
    broken = request(tiny())
    broken["spec"] = {**broken["spec"], "layers": [{"type": "no_such_layer"}]}
    with pytest.raises(E.EstimateError) as caught:
        E.estimate_in_subprocess(broken)
    assert isinstance(caught.value, CnnLabError)
    assert "could not be measured" in str(caught.value)
