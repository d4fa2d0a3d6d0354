#!/usr/bin/env python
"""The Train page's time-per-epoch estimate against the epochs of the run it describes.

For the default run (digits, preset seed002_mnist_cnn, batch 32, 3 epochs, device auto), or the
preset, batch size and epochs given: the estimate exactly as the page gets it
(estimate_request + estimate_in_subprocess), then the run itself, launched as the page launches
it (launch_run: a detached worker with the worker's threads and nice), and the epoch_time_s of
every epoch from its metrics.jsonl. Repeated --repeats times, estimate and run alternating.

Prints one line per repeat and the ratio estimate / measured epoch, with the issue's target
(within ±30 % of the measured epoch) as PASS or FAIL. The first epoch of a run also pays the
worker's warm-up (first allocations and kernel choices), so the ratio is given against the
later epochs' mean and against every epoch.

    .venv/bin/python benchmarks/bench_estimate.py
    .venv/bin/python benchmarks/bench_estimate.py --repeats 3 --batch-size 64
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

from cnn_core.data.loaders import describe_dataset  # noqa: E402
from cnn_core.runs.directory import read_status  # noqa: E402
from cnn_core.runs.launcher import launch_run  # noqa: E402
from cnn_core.runs.metrics import read_metrics  # noqa: E402
from cnn_core.train.config import TrainConfig  # noqa: E402
from cnn_core.train.estimate import estimate_in_subprocess, estimate_request  # noqa: E402

TARGET = 0.30


def run_epochs(config: TrainConfig, root: Path, timeout_s: float) -> list[float]:
    run_dir = launch_run(config, root)
    deadline = time.monotonic() + timeout_s
    while read_status(run_dir).state != "completed":
        if time.monotonic() > deadline or read_status(run_dir).state in ("failed", "interrupted"):
            raise SystemExit(f"run {run_dir} did not complete: {read_status(run_dir)}")
        time.sleep(0.5)
    return [r["epoch_time_s"] for r in read_metrics(run_dir) if r["kind"] == "epoch"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="seed002_mnist_cnn")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=600)
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()

    config = TrainConfig(
        dataset=args.dataset, preset=args.preset, batch_size=args.batch_size, epochs=args.epochs, device=args.device
    )
    config.validate()
    info = describe_dataset(config.dataset)
    val_size = int(round(info["train_pool"] * config.val_split))
    request = estimate_request(
        config, info["input_shape"], len(info["class_names"]), info["train_pool"] - val_size, val_size
    )
    print(
        f"# {args.dataset}, {args.preset}, batch {args.batch_size}, {args.epochs} epochs, device {args.device}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, CNN_LAB_WORKER_THREADS="
        f"{os.environ.get('CNN_LAB_WORKER_THREADS', '(unset: every core)')}"
    )
    print("| repeat | load (1 min) | estimate s | step ms | validation s | epochs s | later epochs' mean s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as root:
        for repeat in range(1, args.repeats + 1):
            load = os.getloadavg()[0]
            estimate = estimate_in_subprocess(request)
            epochs = run_epochs(config, Path(root), args.timeout_s)
            later = statistics.fmean(epochs[1:]) if len(epochs) > 1 else epochs[0]
            ratio = estimate.epoch_s / later
            results.append(dict(load=load, estimate=estimate.__dict__, epoch_s=estimate.epoch_s, epochs=epochs))
            print(
                f"| {repeat} | {load:.2f} | {estimate.epoch_s:.3f} | {estimate.step_s * 1000:.2f} | "
                f"{estimate.val_s:.3f} | {', '.join(f'{e:.3f}' for e in epochs)} | {later:.3f} | {ratio:.2f}× |"
            )
    ratios = [
        r["epoch_s"] / (statistics.fmean(r["epochs"][1:]) if len(r["epochs"]) > 1 else r["epochs"][0]) for r in results
    ]
    median = statistics.median(ratios)
    verdict = "PASS" if abs(median - 1) <= TARGET else "FAIL"
    print(f"\n{verdict}: median ratio estimate / later epochs' mean = {median:.2f}× (target 1 ± {TARGET:.0%})")
    every = [r["epoch_s"] / e for r in results for e in r["epochs"]]
    print(f"estimate / every epoch: {', '.join(f'{x:.2f}×' for x in every)}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
