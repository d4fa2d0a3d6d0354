"""Batch size and speed: time one epoch of the seed 002 CNN on the embedded digits for several
batch sizes on this machine's device. Larger batches mean fewer, bigger updates per epoch; on
parallel hardware each update costs far less than batch-size times a single image.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnn_core.arch.model import build_model
from cnn_core.arch.presets import preset_spec
from cnn_core.concepts import ConceptError
from cnn_core.concepts.seeded import seeded_network
from cnn_core.data.loaders import load_splits
from cnn_core.i18n import t
from cnn_core.train.devices import resolve_device

BATCH_SIZES = (1, 8, 32, 128, 512)
MODEL_PRESET = "seed002_mnist_cnn"


def updates_formula() -> str:
    """The lesson's formula in LaTeX, its words in the current language."""
    return rf"\text{{{t('concept.formula.updates_per_epoch')}}} = \left\lceil \frac{{N}}{{B}} \right\rceil"


@dataclass
class BatchTiming:
    batch_size: int
    updates_per_epoch: int
    updates_timed: int
    seconds_per_epoch: float  # measured, or extrapolated from the timed updates when `estimated`
    estimated: bool

    @property
    def seconds_per_update(self) -> float:
        return self.seconds_per_epoch / self.updates_per_epoch

    @property
    def images_per_second(self) -> float:
        return self.updates_per_epoch * self.batch_size / self.seconds_per_epoch if self.seconds_per_epoch else 0.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_batch_sizes(
    batch_sizes=BATCH_SIZES,
    device: str = "auto",
    time_cap_s: float = 30.0,
    on_progress: Callable[[float, str], None] | None = None,
    seed: int = 0,
    train_images: int | None = None,
) -> tuple[list[BatchTiming], str]:
    """One epoch of SGD per batch size, each given an equal share of time_cap_s; an epoch that
    would overrun its share is timed on the updates that fit and extrapolated (marked estimated).
    Returns the timings and the device name."""
    sizes = sorted({int(b) for b in batch_sizes})
    if not sizes or sizes[0] < 1:
        raise ConceptError(t("concept.err.batch_sizes"))
    if time_cap_s <= 0:
        raise ConceptError(t("concept.err.time_cap", value=time_cap_s))
    dev = resolve_device(device)
    splits = load_splits("digits")
    x = splits.train_x.to(dev).float().div_(255).sub_(0.5).div_(0.5)
    y = splits.train_y.to(dev)
    if train_images is not None:
        x, y = x[:train_images], y[:train_images]
    n = len(y)
    sizes = sorted({min(b, n) for b in sizes})  # every size above n is the same one full-batch epoch
    share = time_cap_s / len(sizes)
    timings = []
    for done, batch_size in enumerate(sizes):
        if on_progress:
            on_progress(done / len(sizes), t("concept.batch.progress", batch=batch_size))
        # the same initial weights for every batch size, from a generator of its own: torch.manual_seed
        # would reseed the generator that every visitor of the server shares
        model = seeded_network(lambda: build_model(preset_spec(MODEL_PRESET)), seed).to(dev)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(dev)
        updates = math.ceil(n / batch_size)

        def update(i: int) -> None:
            idx = order[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        update(0)  # warm-up: first-call allocations and kernel selection are not what we measure
        _sync(dev)
        start = time.perf_counter()
        timed = 0
        while timed < updates:
            update(timed)
            timed += 1
            if timed % 8 == 0 or timed == updates:
                _sync(dev)
                if time.perf_counter() - start > share:
                    break
        _sync(dev)
        elapsed = time.perf_counter() - start
        estimated = timed < updates
        seconds = elapsed / timed * updates if estimated else elapsed
        timings.append(BatchTiming(batch_size, updates, timed, seconds, estimated))
    if on_progress:
        on_progress(1.0, t("concept.batch.done"))
    return timings, str(dev)
