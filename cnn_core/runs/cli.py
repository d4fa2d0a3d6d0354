"""The command line: `python -m cnn_core train | resume | stop | status | list`.

It drives the same run directories and worker as the app, so a run started here shows up
there and the other way round.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from cnn_core.arch.presets import PRESETS
from cnn_core.arch.spec import SpecError, load_spec_json
from cnn_core.data.catalog import DATASETS
from cnn_core.runs.directory import RunError, Status, list_runs, read_status, request_stop, resolve_run_dir
from cnn_core.runs.launcher import launch_run, resume_run
from cnn_core.train.config import AUGMENTATIONS, DEVICES, OPTIMIZERS, SCHEDULES, ConfigError, TrainConfig

FINAL_STATES = ("stopped", "interrupted", "completed", "failed")


def _bar(status: Status, width: int = 30) -> str:
    filled = int(round(status.progress * width))
    rate = f"{status.images_per_s:,.0f} img/s" if status.images_per_s else ""
    eta = f"ETA {status.eta_s:,.0f}s" if status.eta_s else ""
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {status.progress:6.1%} {status.state:<11} "
        f"epoch {status.epoch}/{status.epochs} step {status.step}/{status.total_steps} {rate} {eta}   "
    )


def follow(run_dir: Path, poll_s: float = 0.5, out=sys.stderr) -> Status:
    """Show a progress bar until the run reaches a final state; return that status."""
    while True:
        status = read_status(run_dir)
        out.write(_bar(status))
        out.flush()
        if status.state in FINAL_STATES:
            out.write("\n")
            return status
        time.sleep(poll_s)


def _config_from_args(args):

    fields = dict(
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        device=args.device,
        seed=args.seed,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        val_split=args.val_split,
        augment=args.augment or [],
        mixed_precision=args.amp,
        name=args.name or "",
    )
    if args.data_dir:
        fields["data_dir"] = args.data_dir
    if args.folder:
        fields["folder_path"] = args.folder
    if args.spec:
        fields["spec"], fields["preset"] = load_spec_json(Path(args.spec).read_bytes()), None
    else:
        fields["preset"] = args.preset
    defaults = TrainConfig()
    return TrainConfig.from_dict({k: (getattr(defaults, k) if v is None else v) for k, v in fields.items()})


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(prog="python -m cnn_core", description="Train and manage CNN Lab runs.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="start a training run in the background")
    train.add_argument("--dataset", default="digits", choices=list(DATASETS))
    network = train.add_mutually_exclusive_group()
    network.add_argument("--preset", default="seed002_mnist_cnn", choices=list(PRESETS))
    network.add_argument("--spec", help="an architecture spec JSON file (from the builder)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--optimizer", choices=OPTIMIZERS)
    train.add_argument("--schedule", choices=SCHEDULES)
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--label-smoothing", type=float)
    train.add_argument("--val-split", type=float)
    train.add_argument("--augment", nargs="*", choices=AUGMENTATIONS)
    train.add_argument("--amp", action="store_true", default=None, help="bfloat16 mixed precision (CUDA)")
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--seed", type=int)
    train.add_argument("--name")
    train.add_argument("--folder", help="for --dataset folder: a directory with one sub-folder per class")
    train.add_argument("--data-dir", help="where datasets are stored (default: settings' data dir)")
    train.add_argument("--runs-dir", help="where runs are created (default: settings' runs dir)")
    train.add_argument("--wait", action="store_true", help="follow the run with a progress bar until it ends")
    for name, text in (
        ("resume", "restart a stopped or interrupted run from its checkpoint"),
        ("stop", "ask a run to stop after its current batch"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("run", help="run directory or run id")
        p.add_argument("--runs-dir")
        if name == "resume":
            p.add_argument("--wait", action="store_true")
    status = sub.add_parser("status", help="show a run's state")
    status.add_argument("run", help="run directory or run id")
    status.add_argument("--runs-dir")
    status.add_argument("--json", action="store_true")
    listing = sub.add_parser("list", help="list runs")
    listing.add_argument("--runs-dir")
    return parser


def main(argv: list[str] | None = None) -> int:

    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            run_dir = launch_run(_config_from_args(args), args.runs_dir)
            print(run_dir)
            sys.stdout.flush()
            if args.wait:
                return _report(follow(run_dir), run_dir)
            return 0
        run_dir = resolve_run_dir(args.run, args.runs_dir) if args.command != "list" else None
        if args.command == "resume":
            resume_run(run_dir)
            print(run_dir)
            return _report(follow(run_dir), run_dir) if args.wait else 0
        if args.command == "stop":
            request_stop(run_dir)
            print(f"stop requested for {run_dir.name}")
            return 0
        if args.command == "status":
            status = read_status(run_dir)
            if args.json:
                print(json.dumps(asdict(status), indent=1))
            else:
                print(
                    f"{run_dir.name}: {status.state} epoch {status.epoch}/{status.epochs} "
                    f"step {status.step}/{status.total_steps}"
                    + (f" test_acc {status.test_acc:.4f}" if status.test_acc is not None else "")
                    + (f" error: {status.error}" if status.error else "")
                )
            return 0
        for run in list_runs(args.runs_dir):
            acc = f"{run.status.test_acc:.4f}" if run.status.test_acc is not None else "-"
            print(
                f"{run.run_id}  {run.status.state:<11} {run.config.get('dataset', '?'):<13} "
                f"{run.config.get('preset') or 'custom spec':<28} {run.status.progress:6.1%}  test_acc {acc}"
            )
        return 0
    except (ConfigError, SpecError, RunError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _report(status: Status, run_dir: Path) -> int:
    if status.state == "completed":
        print(f"completed: test accuracy {status.test_acc:.4f}")
        return 0
    print(
        f"{status.state}" + (f": {status.error}" if status.error else "") + f" (log: {run_dir / 'worker.log'})",
        file=sys.stderr,
    )
    return 1
