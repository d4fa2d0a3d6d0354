#!/usr/bin/env python
"""One process vs several under torchrun, on this machine's CPU (gloo) or GPUs (NCCL).

Each row launches a real run through the CLI (`python -m cnn_core train ... --nproc-per-node N
--wait`), the same command a user types, in a fresh runs folder, and reads back:

  wall      seconds from the command to its exit: worker start, torch imports in every process,
            the rendezvous, training, validation, test and the files;
  train     the run's own training time (status.json train_s: the epochs' steps, validation and
            checkpoints, without process start-up);
  epoch     the median epoch_time_s of its epoch records (steps and validation of one epoch);
  img/s     training images per second over the epochs (their images over their epoch_time_s,
            which includes validation);
  test acc  the run's test accuracy.

Every row trains the same global batch (--batch-size), so the processes share it. Repeats
alternate the rows; the table shows the median and the best. On a 2-core CPU two processes get
one core each (torchrun sets OMP_NUM_THREADS=1), the one-process row both cores.

    .venv/bin/python benchmarks/bench_distributed.py --processes 1 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(processes: int, args) -> dict:
    runs = Path(tempfile.mkdtemp(prefix="bench-ddp-"))
    command = [sys.executable, "-m", "cnn_core", "train", "--dataset", args.dataset, "--preset", args.preset]
    command += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--device", args.device]
    command += ["--nproc-per-node", str(processes), "--runs-dir", str(runs), "--wait"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run with {processes} processes failed:\n{done.stderr[-2000:]}")
    run_dir = Path(done.stdout.split()[0])
    status = json.loads((run_dir / "status.json").read_text())
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    epochs = [r["epoch_time_s"] for r in records if r["kind"] == "epoch"]
    images = json.loads((run_dir / "dataset.json").read_text())["train"] * len(epochs)
    return {
        "processes": processes,
        "wall_s": wall,
        "train_s": status["train_s"],
        "epoch_s": statistics.median(epochs),
        "images_per_s": images / max(1e-9, sum(epochs)),
        "test_acc": status["test_acc"],
        "world_size": status["world_size"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--preset", default="seed002_mnist_cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write every measurement here")
    args = parser.parse_args()
    rows: dict[int, list[dict]] = {n: [] for n in args.processes}
    for repeat in range(args.repeats):
        for n in args.processes:
            row = one_run(n, args)
            rows[n].append(row)
            print(f"repeat {repeat + 1}: {n} process(es): {json.dumps({k: round(v, 3) for k, v in row.items()})}")
    print(f"\n{args.preset} on {args.dataset}, {args.epochs} epochs, global batch {args.batch_size}, {args.device}")
    print("| processes | wall s | train s | epoch s | img/s | test acc |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, measured in rows.items():

        def cell(key, best, digits=2, measured=measured):
            values = [m[key] for m in measured]
            return f"{statistics.median(values):,.{digits}f} ({best(values):,.{digits}f})"

        print(
            f"| {n} | {cell('wall_s', min)} | {cell('train_s', min)} | {cell('epoch_s', min)} "
            f"| {cell('images_per_s', max, 0)} | {cell('test_acc', max, 4)} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
