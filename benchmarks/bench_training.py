#!/usr/bin/env python
"""Training throughput: the seeds' recipe vs a plain tensor loop vs CNN Lab's engine.

Two networks (the seeds' CIFAR-10 CNN, preset seed000_cifar_cnn, and MNIST CNN, preset
seed002_mnist_cnn) are trained on SYNTHETIC data of the real shapes (random uint8 images,
random labels), in one process, on one device, with one batch size, three ways:

  seeds   the seeds' recipe: a torchvision-style Dataset (uint8 array, Image.fromarray per
          item, transforms.Compose([ToTensor(), Normalize(...)])) -> DataLoader(shuffle=True)
          -> .to(device) -> model -> loss -> backward -> Adam, `running_loss += loss.item()`
          every step, as seed 000 does;
  plain   a hand-written loop: the data already a normalised float tensor on the device,
          batches sliced from a per-epoch randperm, no logging, no bookkeeping;
  engine  CNN Lab's own steps (cnn_core.train.steps), called directly with the synthetic
          tensors as DeviceData: train_one_epoch every epoch, reporting as run_training and the
          worker do (a step record appended to metrics.jsonl every log_interval_s, status.json
          rewritten; the stop file checked before every step), then evaluate on a validation
          set; evaluate on a test set at the end. No checkpoints: run_training writes them at
          epoch ends and every 120 s, all outside the timed steps here.

Every method runs --epochs epochs over the same N images with the same batch size; the first
--warmup-steps steps are warm-up (default: the first epoch on CUDA, 3 steps on the CPU), the
rest are timed: the same number of steps for every method. Time is wall-clock around the
training steps of each epoch, with torch.cuda.synchronize() at both ends on CUDA (and nowhere
in between). For the engine the clock starts in should_stop(), which train_one_epoch calls
before every step, and stops when train_one_epoch returns after the epoch's last step (which
always logs), so the epoch-end validation falls outside the timed steps, as for the other
methods, which have none. The engine's own images/s from its metrics.jsonl step records is
reported too.

The cost of metrics streaming: the engine with log_interval_s=0.5 (the app's default) against
log_interval_s=1e9 (only the forced log after each epoch's last step), and, directly, the time
spent inside append_metrics + the worker's write_status during the timed steps.

On a CPU shared with other busy processes, wall-clock numbers swing by tens of percent; the
CPU table then also shows the median step time, and `--threads 1 --clock cpu` times this
process's CPU time instead, which other processes barely disturb (not fsync waits, though:
read the metrics overhead from a wall-clock run).

    .venv/bin/python benchmarks/bench_training.py --device cpu
    .venv/bin/python benchmarks/bench_training.py --device cpu --threads 1 --clock cpu --repeats 2
    .venv/bin/python benchmarks/bench_training.py --device cuda --json bench-gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnn_core.train.devices import use_channels_last  # noqa: E402

NETWORKS = {
    "cifar": {
        "preset": "seed000_cifar_cnn",
        "dataset": "cifar10",
        "shape": (3, 32, 32),
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "title": "CIFAR-10 CNN (seed 000)",
    },
    "mnist": {
        "preset": "seed002_mnist_cnn",
        "dataset": "mnist",
        "shape": (1, 28, 28),
        "mean": (0.1307,),
        "std": (0.3081,),
        "title": "MNIST CNN (seed 002)",
    },
}
NUM_CLASSES = 10
SEED = 0
LR = 1e-3
TARGETS = {
    "cpu_engine_vs_plain": 0.95,
    "gpu_engine_vs_plain": 0.90,
    "gpu_engine_vs_seeds": 20.0,
    "metrics_overhead_pct": 2.0,
}


_CLOCK = {"fn": time.perf_counter}


def clock() -> float:
    """The timing clock: wall (perf_counter) by default; process CPU time with --clock cpu."""
    return _CLOCK["fn"]()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def default_cudnn() -> None:
    """PyTorch's defaults; configure_cudnn (as run_training and the engine method call it) sets
    these flags process-wide and never restores them."""
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = False


# ------------------------------------------------------------------ data and model


def synthetic(net: dict, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, *net["shape"]), dtype=torch.uint8, generator=g)
    y = torch.randint(0, NUM_CLASSES, (n,), dtype=torch.int64, generator=g)
    return x, y


def make_model(net: dict, device: torch.device, channels_last: bool = False) -> nn.Module:
    """The same module the engine builds: the preset's spec fitted to the data, same initial weights."""
    from cnn_core.train import steps
    from cnn_core.train.config import TrainConfig

    spec = TrainConfig(dataset=net["dataset"], preset=net["preset"]).architecture(net["shape"], NUM_CLASSES)
    return steps.make_model(spec, SEED, device, channels_last)


def rate(images: int, seconds: float) -> float:
    return images / max(seconds, 1e-12)


def first_timed_step(epoch: int, steps_per_epoch: int, warmup: int) -> int | None:
    """The first timed step within `epoch` (0 = the whole epoch), or None when it is all warm-up."""
    start = epoch * steps_per_epoch
    if warmup >= start + steps_per_epoch:
        return None
    return max(0, warmup - start)


class StepTimer:
    """Time (clock()) of the timed steps: start() where timing begins, step() after every step,
    stop() after an epoch's last step. Synchronises CUDA at start and stop only; the per-step
    times (host side) are used only on the CPU, where they are exact."""

    def __init__(self, device: torch.device):
        self.device, self.on, self.segments, self.steps = device, False, [], []

    def start(self) -> None:
        sync(self.device)
        self.t0 = self.last = clock()
        self.on = True

    def step(self) -> None:
        if self.on:
            now = clock()
            self.steps.append(now - self.last)
            self.last = now

    def stop(self) -> None:
        if self.on:
            sync(self.device)
            now = clock()
            self.segments.append(now - self.t0)
            if self.steps:
                self.steps[-1] += now - self.last
            self.on = False


def summarise(
    name: str, segments: list[float], step_times: list[float], args, steps_per_epoch: int, device: torch.device, **extra
) -> dict:
    """segments: the timed seconds of every epoch that has timed steps; step_times: every timed step's."""
    seconds = sum(segments)
    steps = args.epochs * steps_per_epoch - args.warmup_steps
    assert len(step_times) == steps, (name, len(step_times), steps)
    result = {
        "method": name,
        "images_per_s": rate(steps * args.batch_size, seconds),
        "timed_steps": steps,
        "timed_s": seconds,
        "step_ms": 1000 * seconds / max(1, steps),
        "segments_s": segments,
        **extra,
    }
    if device.type == "cpu":  # robust to other processes' bursts on a shared machine
        median = statistics.median(step_times)
        result.update(
            median_step_ms=1000 * median,
            median_images_per_s=rate(args.batch_size, median),
            step_ms_all=[round(1000 * t, 3) for t in step_times],
        )
    return result


# ------------------------------------------------------------------ (a) the seeds' recipe


class SeedStyleDataset(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 / MNIST do per item: Image.fromarray, then the transform."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform):
        # CIFAR10 keeps an (N, H, W, C) uint8 numpy array; MNIST an (N, H, W) uint8 tensor.
        self.data = x.permute(0, 2, 3, 1).contiguous().numpy() if x.shape[1] == 3 else x[:, 0].contiguous().numpy()
        self.targets = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        from PIL import Image

        img, target = Image.fromarray(self.data[index]), int(self.targets[index])
        return self.transform(img), target


def run_seeds(net, x, y, device, args) -> dict:
    from torchvision import transforms

    default_cudnn()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(net["mean"], net["std"])])
    loader = torch.utils.data.DataLoader(
        SeedStyleDataset(x, y, transform), batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers
    )
    model = make_model(net, device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    steps_per_epoch = len(loader)
    timer = StepTimer(device)
    for epoch in range(args.epochs):
        first = first_timed_step(epoch, steps_per_epoch, args.warmup_steps)
        if first == 0:
            timer.start()  # the epoch's DataLoader iterator (and its shuffle) is timed
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(loader):
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            timer.step()
            if first is not None and i + 1 == first:  # the timed steps start with the next batch's fetch
                timer.start()
        timer.stop()
    return summarise(
        "seeds' recipe", timer.segments, timer.steps, args, steps_per_epoch, device, num_workers=args.num_workers
    )


# ------------------------------------------------------------------ (b) a plain tensor loop


def run_plain(net, x, y, device, args, channels_last: bool = False, label: str = "plain loop") -> dict:
    default_cudnn()
    mean = torch.tensor(net["mean"], device=device).view(1, -1, 1, 1)
    std = torch.tensor(net["std"], device=device).view(1, -1, 1, 1)
    data = x.to(device).float().div_(255).sub_(mean).div_(std)  # normalised once
    labels = y.to(device)
    model = make_model(net, device, channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    n, bs = len(labels), args.batch_size
    layout = torch.channels_last if channels_last else torch.contiguous_format
    steps_per_epoch = n // bs
    timer = StepTimer(device)
    for epoch in range(args.epochs):
        first = first_timed_step(epoch, steps_per_epoch, args.warmup_steps)
        if first == 0:
            timer.start()
        perm = torch.randperm(n, device=device)
        for s in range(steps_per_epoch):
            index = perm[s * bs : (s + 1) * bs]
            loss = F.cross_entropy(model(data[index].contiguous(memory_format=layout)), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            timer.step()
            if first is not None and s + 1 == first:
                timer.start()
        timer.stop()
    return summarise(label, timer.segments, timer.steps, args, steps_per_epoch, device)


# ------------------------------------------------------------------ (c) the engine, for real


def run_engine(
    net,
    x,
    y,
    device,
    args,
    log_interval_s: float,
    deterministic: bool = True,
    label: str = "engine",
    channels_last: bool = False,
) -> dict:
    """The engine's steps, called directly as run_training calls them: train_one_epoch over the
    synthetic images on the device, reporting as the worker does (a step record appended to
    metrics.jsonl, status.json rewritten) and checking the stop file before every step; evaluate
    on a validation set after every epoch and on a test set at the end."""
    from cnn_core.runs.directory import STOP_FILE, Status, write_status
    from cnn_core.runs.metrics import append_metrics, read_metrics
    from cnn_core.train.config import TrainConfig
    from cnn_core.train.device_data import to_device
    from cnn_core.train.devices import configure_cudnn
    from cnn_core.train.loop import step_record
    from cnn_core.train.steps import EpochState, Sums, evaluate, make_optimizer, make_scheduler, train_one_epoch

    n, bs = len(y), args.batch_size
    steps_per_epoch = n // bs
    n_val = max(bs, int(round(n * args.val_split)))
    mean, std = list(net["mean"]), list(net["std"])
    train = to_device(x, y, mean, std, device)
    val = to_device(*synthetic(net, n_val, SEED + 1), mean, std, device)
    test = to_device(*synthetic(net, args.test_n, SEED + 2), mean, std, device)
    config = TrainConfig(
        dataset=net["dataset"],
        preset=net["preset"],
        epochs=args.epochs,
        batch_size=bs,
        optimizer="adam",
        lr=LR,
        schedule="constant",
        val_split=args.val_split,
        seed=SEED,
        device=device.type,
        deterministic=deterministic,
        log_interval_s=log_interval_s,
        channels_last=channels_last,
    )
    configure_cudnn(deterministic)
    model = make_model(net, device, channels_last)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    criterion = nn.CrossEntropyLoss()
    eval_criterion = nn.CrossEntropyLoss(reduction="sum")

    warmup = args.warmup_steps
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    io = {"append_s": 0.0, "status_s": 0.0, "appends": 0}
    state = {"calls": 0, "timing": False}
    call_t: list[float] = []  # clock() at the start of every step

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as tmp:
        run_dir = Path(tmp)
        stop_file = run_dir / STOP_FILE
        status = Status(state="running")

        def should_stop() -> bool:  # asked before every step
            k = state["calls"]
            state["calls"] += 1
            if k == warmup or (k > warmup and k % steps_per_epoch == 0):
                sync(device)
                starts[k // steps_per_epoch] = clock()
                state["timing"] = True
            call_t.append(clock())
            return stop_file.exists()  # what the worker's should_stop does

        def on_log(log) -> None:  # what run_training's logging and the worker's on_log do
            t0 = clock()
            append_metrics(run_dir, [step_record(log, steps_per_epoch, optimizer.param_groups[0]["lr"])])
            t1 = clock()
            status.step, status.epoch = log.epoch * steps_per_epoch + log.step, log.epoch
            status.images_per_s, status.heartbeat = log.images_per_s, time.time()
            write_status(run_dir, status)
            if state["timing"]:
                io["append_s"] += t1 - t0
                io["status_s"] += clock() - t1
                io["appends"] += 1

        try:
            for epoch in range(args.epochs):
                position = EpochState(epoch, 0, Sums.zeros(device))
                train_one_epoch(model, train, criterion, optimizer, scheduler, config, position, should_stop, on_log)
                if state["timing"]:
                    sync(device)
                    ends[epoch] = clock()
                    state["timing"] = False
                evaluate(model, val, eval_criterion, NUM_CLASSES)  # untimed, as the other methods have none
            evaluate(model, test, eval_criterion, NUM_CLASSES, want_probs=True)
            records = read_metrics(run_dir)
        finally:
            default_cudnn()

    segments = [ends[e] - starts[e] for e in sorted(starts)]
    step_times = [
        (call_t[k + 1] if (k + 1) % steps_per_epoch else ends[k // steps_per_epoch]) - call_t[k]
        for k in range(warmup, args.epochs * steps_per_epoch)
    ]
    result = summarise(
        label,
        segments,
        step_times,
        args,
        steps_per_epoch,
        device,
        log_interval_s=log_interval_s,
        deterministic=deterministic,
    )
    # The engine's own figure, as the app shows it: its step records whose interval lies after the
    # warm-up. Each epoch's first record counts from that epoch's start, after the validation.
    images = seconds = 0.0
    prev = 0
    for r in records:
        if r["kind"] == "step":
            if prev >= warmup:
                k = (r["step"] - prev) * bs
                images += k
                seconds += k / r["images_per_s"]
            prev = r["step"]
    result["own_metrics_images_per_s"] = rate(images, seconds) if seconds else None
    result["step_records_timed"] = sum(1 for r in records if r["kind"] == "step" and r["step"] > warmup)
    io_s = io["append_s"] + io["status_s"]
    result["metrics_io_s"] = io_s
    result["metrics_io_pct"] = 100 * io_s / max(1e-12, result["timed_s"])
    return result


# ------------------------------------------------------------------ what the engine adds per step


def engine_extras(net, device, args) -> dict:
    """Microseconds per call, on this device, of what the engine's step does beyond the plain loop's.

    Each piece runs 200 times between two synchronisations, so on CUDA this is the larger of
    its host time (Python, dispatch, launches) and its GPU time: what it adds to a step when
    the step is bound by the host, as small networks on a fast GPU are.
    """
    from cnn_core.train.device_data import to_device
    from cnn_core.train.randomness import mix_seed, seed_step
    from cnn_core.train.steps import Sums

    bs = args.batch_size
    x, y = synthetic(net, 2 * bs, SEED)
    data = to_device(x, y, list(net["mean"]), list(net["std"]), device)
    floats = data.x.float()
    index = torch.randperm(2 * bs, device=device)[:bs]
    logits = torch.randn(bs, NUM_CLASSES, device=device)
    labels = data.y[:bs]
    loss = torch.ones((), device=device)
    totals, window = Sums.zeros(device), Sums.zeros(device)  # the epoch's and the log window's
    optimizer = torch.optim.Adam([torch.zeros(1, device=device, requires_grad=True)], lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    optimizer.step()  # no gradient, so no update; only keeps LambdaLR from warning about the order
    counter = iter(range(10**9))

    def accumulate():  # as train_one_epoch does after every step
        with torch.no_grad():
            batch_loss, batch_correct = loss.detach() * len(labels), (logits.argmax(1) == labels).sum()
        totals.add(batch_loss, batch_correct, len(labels))
        window.add(batch_loss, batch_correct, len(labels))

    pieces = {
        "plain: x[index], y[index] of normalised floats": lambda: (floats[index], data.y[index]),
        "engine: DeviceData.batch (uint8 gather + normalise)": lambda: data.batch(index),
        "engine: seed_step (CPU + training-device generators)": lambda: seed_step(
            mix_seed(SEED, 1, next(counter)), device
        ),
        "engine: LambdaLR.step()": scheduler.step,
        "engine: loss/accuracy accumulators (2 reductions, 4 adds)": accumulate,
        "for reference: torch.manual_seed (seeds every backend)": lambda: torch.manual_seed(
            mix_seed(SEED, 1, next(counter))
        ),
    }
    out = {}
    for name, fn in pieces.items():
        for _ in range(20):
            fn()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(200):
            fn()
        sync(device)
        out[name] = 1e6 * (time.perf_counter() - t0) / 200
    keys = list(pieces)
    out["engine extras in all (batch − plain gather + seed + LambdaLR + accumulators)"] = (
        out[keys[1]] - out[keys[0]] + out[keys[2]] + out[keys[3]] + out[keys[4]]
    )
    return out


# ------------------------------------------------------------------ driver


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best(results: list[dict]) -> dict:
    return max(results, key=lambda r: r["images_per_s"])


def bench_network(key: str, device: torch.device, args) -> dict:
    net = NETWORKS[key]
    n = (args.n // args.batch_size) * args.batch_size
    x, y = synthetic(net, n, SEED)
    log(
        f"[{key}] {net['title']}: N={n}, batch {args.batch_size}, {n // args.batch_size} steps/epoch, "
        f"{args.epochs} epochs, first {args.warmup_steps} steps warm-up, device {device}"
    )
    runs: dict[str, list[dict]] = {}

    def go(name, fn):
        t0 = time.perf_counter()
        r = fn()
        runs.setdefault(name, []).append(r)
        log(f"  {name:<28} {r['images_per_s']:>12,.0f} img/s   ({time.perf_counter() - t0:.1f}s)")

    methods = [
        ("seeds", lambda: run_seeds(net, x, y, device, args)),
        ("plain", lambda: run_plain(net, x, y, device, args)),
        ("engine", lambda: run_engine(net, x, y, device, args, args.log_interval_s)),
        ("engine_nolog", lambda: run_engine(net, x, y, device, args, 1e9, label="engine, logging off")),
    ]
    if use_channels_last(None, device, False):  # the memory format a run picks here by default, both ways
        methods += [
            ("plain_cl", lambda: run_plain(net, x, y, device, args, True, "plain loop, channels-last")),
            (
                "engine_cl",
                lambda: run_engine(
                    net,
                    x,
                    y,
                    device,
                    args,
                    args.log_interval_s,
                    label="engine, channels-last (a run's default here)",
                    channels_last=True,
                ),
            ),
        ]
    if device.type == "cuda":
        methods.append(
            (
                "engine_nondet",
                lambda: run_engine(
                    net,
                    x,
                    y,
                    device,
                    args,
                    args.log_interval_s,
                    deterministic=False,
                    label="engine, deterministic=False",
                ),
            )
        )
    for rep in range(args.repeats):
        if args.repeats > 1:
            log(f"  repeat {rep + 1}/{args.repeats}")
        for name, fn in methods if rep % 2 == 0 else methods[::-1]:  # alternate the order against drift
            go(name, fn)
    extras = engine_extras(net, device, args)
    res = {name: best(rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        res[name]["all_images_per_s"] = [r["images_per_s"] for r in rs]
    plain, seeds = res["plain"]["images_per_s"], res["seeds"]["images_per_s"]
    for r in res.values():
        r["vs_plain"] = r["images_per_s"] / plain
        r["vs_seeds"] = r["images_per_s"] / seeds
    if device.type == "cpu":  # the median over every timed step of every repeat
        for name, rs in runs.items():
            res[name]["pooled_median_step_ms"] = statistics.median(t for r in rs for t in r["step_ms_all"])
        for r in res.values():
            r["vs_plain_median"] = res["plain"]["pooled_median_step_ms"] / r["pooled_median_step_ms"]
    on, off = res["engine"]["step_ms"], res["engine_nolog"]["step_ms"]
    return {
        "network": key,
        "title": net["title"],
        "preset": net["preset"],
        "n": n,
        "batch_size": args.batch_size,
        "steps_per_epoch": n // args.batch_size,
        "methods": res,
        "metrics_overhead_ab_pct": 100 * (on - off) / off,
        "metrics_io_pct": res["engine"]["metrics_io_pct"],
        "engine_extras_us": extras,
    }


def table(results: list[dict], device: torch.device) -> str:
    cpu = device.type == "cpu"
    head = "| network | method | images/s | ratio vs plain | ratio vs seeds' recipe | step ms |"
    rule = "|---|---|---:|---:|---:|---:|"
    if cpu:
        head += " median step ms | median-step ratio vs plain |"
        rule += "---:|---:|"
    lines = [head, rule]
    for nr in results:
        m = nr["methods"]
        order = ["seeds", "plain", "engine", "engine_nolog"]
        order += [name for name in ("plain_cl", "engine_cl", "engine_nondet") if name in m]
        for name in order:
            r = m[name]
            label = r["method"] + (f" (num_workers={r['num_workers']})" if name == "seeds" else "")
            row = (
                f"| {nr['title']} | {label} | {r['images_per_s']:,.0f} | {r['vs_plain']:.3f}× | "
                f"{r['vs_seeds']:.2f}× | {r['step_ms']:.2f} |"
            )
            if cpu:
                row += f" {r['pooled_median_step_ms']:.2f} | {r['vs_plain_median']:.3f}× |"
            lines.append(row)
        own = m["engine"]["own_metrics_images_per_s"]
        if own:
            label = f"| {nr['title']} | engine as its metrics.jsonl reports it"
            if _CLOCK["fn"] is time.perf_counter:
                row = (
                    f"{label} | {own:,.0f} | {own / m['plain']['images_per_s']:.3f}× | "
                    f"{own / m['seeds']['images_per_s']:.2f}× | |"
                )
            else:  # the engine's own figure is wall-clock: no ratio against CPU-time figures
                row = f"{label} (wall clock) | {own:,.0f} | | | |"
            lines.append(row + (" | |" if cpu else ""))
    lines += [
        "",
        "| network | metrics streaming: step time, log every 0.5 s vs off (A/B) | "
        "time inside append_metrics + write_status, share of step time |",
        "|---|---:|---:|",
    ]
    for nr in results:
        lines.append(f"| {nr['title']} | {nr['metrics_overhead_ab_pct']:+.2f}% | {nr['metrics_io_pct']:.3f}% |")
    lines += [
        "",
        "What the engine's step adds to the plain loop's, µs per step, wall clock (share of the engine's "
        "mean step time):",
        "",
        "| piece | " + " | ".join(nr["title"] for nr in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for piece in results[0]["engine_extras_us"]:
        cells = []
        for nr in results:
            us = nr["engine_extras_us"][piece]
            cells.append(f"{us:,.1f} ({100 * us / (1000 * nr['methods']['engine']['step_ms']):.2f}%)")
        lines.append(f"| {piece} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(results: list[dict], device: torch.device, batch_size: int) -> list[str]:
    out = []
    for nr in results:
        e = nr["methods"]["engine"]
        if device.type == "cpu":
            t = TARGETS["cpu_engine_vs_plain"]
            out.append(
                f"{nr['network']}: engine {e['vs_plain']:.3f}× plain, {e['vs_plain_median']:.3f}× by median "
                f"step (target ≥ {t}): {'PASS' if e['vs_plain'] >= t else 'FAIL'} / "
                f"{'PASS' if e['vs_plain_median'] >= t else 'FAIL'}"
            )
            m = nr["methods"]
            if "engine_cl" in m:  # the default format here, against the plain loop in the same format
                ratio = m["engine_cl"]["images_per_s"] / m["plain_cl"]["images_per_s"]
                gain = m["engine_cl"]["images_per_s"] / e["images_per_s"]
                out.append(
                    f"{nr['network']}: engine, channels-last {ratio:.3f}× the plain loop in channels-last "
                    f"(target ≥ {t}): {'PASS' if ratio >= t else 'FAIL'}; {gain:.2f}× the engine in the contiguous format"
                )
        else:
            t1, t2 = TARGETS["gpu_engine_vs_plain"], TARGETS["gpu_engine_vs_seeds"]
            note = "" if batch_size == 512 else f" (targets are for batch 512, this is {batch_size})"
            out.append(
                f"{nr['network']}: engine {e['vs_plain']:.3f}× plain (target ≥ {t1}): "
                f"{'PASS' if e['vs_plain'] >= t1 else 'FAIL'}; {e['vs_seeds']:.1f}× seeds' recipe "
                f"(target ≥ {t2}): {'PASS' if e['vs_seeds'] >= t2 else 'FAIL'}{note}"
            )
        t3 = TARGETS["metrics_overhead_pct"]
        ab, io = nr["metrics_overhead_ab_pct"], nr["metrics_io_pct"]
        out.append(
            f"{nr['network']}: metrics streaming {ab:+.2f}% by A/B, {io:.3f}% inside the writes "
            f"(target < {t3}%): A/B {'PASS' if ab < t3 else 'FAIL'}, writes {'PASS' if io < t3 else 'FAIL'}"
        )
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--epochs", type=int, default=None, help="epochs per method (default 3 on CUDA, 2 on CPU)")
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=None,
        help="untimed steps at the start of every run (default: one epoch on CUDA, 3 on CPU)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="training images, rounded down to a whole number of batches (default 50000 on CUDA, 8192 on CPU)",
    )
    p.add_argument("--batch-size", type=int, default=None, help="default 512 on CUDA, 128 on CPU")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers of the seeds' recipe (default 0)")
    p.add_argument("--networks", default="cifar,mnist", help="comma-separated: cifar, mnist")
    p.add_argument("--repeats", type=int, default=1, help="run every method this many times, keep the fastest")
    p.add_argument(
        "--log-interval-s", type=float, default=0.5, help="the engine's log interval (default 0.5, as the app)"
    )
    p.add_argument("--val-split", type=float, default=0.02, help="engine validation set, as a fraction of --n")
    p.add_argument("--test-n", type=int, default=256, help="engine test set size")

    def threads(value: str):
        if value == "worker" or (value.isdigit() and int(value) > 0):
            return value
        raise argparse.ArgumentTypeError("a positive number or 'worker'")

    p.add_argument(
        "--threads",
        type=threads,
        default=None,
        help="torch.set_num_threads: a number, or 'worker' for what the app's worker uses "
        "(CNN_LAB_WORKER_THREADS, by default torch's own count); default: torch's choice",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: wall-clock time (default, the only choice on CUDA); cpu: this process's CPU time, "
        "for a CPU shared with other busy processes (use with --threads 1)",
    )
    p.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be at least 1")
    bad = [k for k in args.networks.split(",") if k not in NETWORKS]
    if bad:
        p.error(f"unknown network(s) {', '.join(bad)}; choose from {', '.join(NETWORKS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "error: --device cuda was asked for, but torch.cuda.is_available() is False here "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}). Run on a machine with an NVIDIA GPU "
            "and a working driver, or use --device cpu.",
            file=sys.stderr,
        )
        return 2
    device = torch.device(
        "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    )
    cuda = device.type == "cuda"
    args.n = args.n or (50000 if cuda else 8192)
    args.batch_size = args.batch_size or (512 if cuda else 128)
    args.epochs = args.epochs or (3 if cuda else 2)
    steps_per_epoch = args.n // args.batch_size
    if args.warmup_steps is None:
        args.warmup_steps = steps_per_epoch if cuda else 3
    if steps_per_epoch < 1 or args.warmup_steps < 0 or args.warmup_steps >= args.epochs * steps_per_epoch:
        print(
            f"error: {args.epochs} epoch(s) of {steps_per_epoch} steps (--n {args.n} / --batch-size "
            f"{args.batch_size}) leave no timed step after {args.warmup_steps} warm-up steps",
            file=sys.stderr,
        )
        return 2
    if args.clock == "cpu":
        if cuda:
            print("error: --clock cpu measures CPU time and cannot time CUDA work; use --clock wall", file=sys.stderr)
            return 2
        if args.num_workers:
            print(
                "error: --clock cpu counts this process only, not DataLoader worker processes; "
                "use --num-workers 0 or --clock wall",
                file=sys.stderr,
            )
            return 2
        _CLOCK["fn"] = time.process_time
    if args.threads == "worker":
        from cnn_core.settings import get_settings

        args.threads = get_settings().worker_threads
    if args.threads:
        args.threads = int(args.threads)
        torch.set_num_threads(args.threads)
    default_cudnn()
    env = {
        "device": str(device),
        "hardware": hardware(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": hardware(torch.device("cpu")),
    }
    log(f"{env['hardware']} | torch {env['torch']} | {env['threads']} threads")
    env["loadavg_before"] = list(os.getloadavg())
    t0 = time.perf_counter()
    results = [bench_network(k, device, args) for k in args.networks.split(",")]
    total = time.perf_counter() - t0
    env["loadavg_after"] = list(os.getloadavg())

    print(
        f"\nDevice: {env['hardware']} ({device}), torch {env['torch']}, {env['threads']} CPU threads; "
        f"batch {args.batch_size}, N={results[0]['n']}, {args.epochs} epoch(s), {results[0]['methods']['plain']['timed_steps']} "
        f"timed steps after {args.warmup_steps} warm-up steps, "
        f"seeds' recipe num_workers={args.num_workers}, best of {args.repeats}, {args.clock} clock; {total:.0f}s in all; "
        f"load average {env['loadavg_before'][0]:.2f} before, {env['loadavg_after'][0]:.2f} after.\n"
    )
    print(table(results, device))
    print()
    for line in verdicts(results, device, args.batch_size):
        print(line)
    if args.json:
        out = {
            "args": vars(args),
            "env": env,
            "targets": TARGETS,
            "total_s": total,
            "results": results,
            "verdicts": verdicts(results, device, args.batch_size),
        }
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
