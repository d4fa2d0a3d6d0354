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
from cnn_core.i18n import t
from cnn_core.runs.directory import RunError, Status, list_runs, read_status, request_stop, resolve_run_dir
from cnn_core.runs.launcher import join_run, launch_run, resume_run
from cnn_core.train.config import (
    AUGMENTATIONS,
    DEVICES,
    NORMALIZATIONS,
    OPTIMIZERS,
    SCHEDULES,
    ConfigError,
    TrainConfig,
)

FINAL_STATES = ("stopped", "interrupted", "completed", "failed")


def _bar(status: Status, width: int = 30) -> str:
    filled = int(round(status.progress * width))
    rate = t("cli.rate", rate=f"{status.images_per_s:,.0f}") if status.images_per_s else ""
    eta = t("cli.eta", seconds=f"{status.eta_s:,.0f}") if status.eta_s else ""
    where = t("cli.where", epoch=status.epoch, epochs=status.epochs, step=status.step, steps=status.total_steps)
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {status.progress:6.1%} {_state(status.state):<11} {where} {rate} {eta}   "


def _state(state: str) -> str:
    """A run's state in the current language; the state names themselves stay in the files."""
    return t(f"state.{state}") if state in (*FINAL_STATES, "queued", "running", "stopping") else state


def follow(run_dir: Path, poll_s: float = 0.1, out=sys.stderr) -> Status:
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
        clip_grad_norm=args.clip_grad_norm,
        val_split=args.val_split,
        normalization=args.normalization,
        augment=args.augment or [],
        mixed_precision=args.amp,
        name=args.name or "",
        nproc_per_node=args.nproc_per_node,
        nnodes=args.nnodes,
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


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, prefix=t("cli.usage") + " " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse's own words (usage, the section titles, -h) in the current language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs, add_help=False, formatter_class=_Formatter)
        self._positionals.title, self._optionals.title = t("cli.positionals"), t("cli.options")
        self.add_argument("-h", "--help", action="help", help=t("cli.arg.help"))

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, t("cli.error", error=message) + "\n")


def _processes(parser) -> None:
    """torchrun's own options, with torchrun's meanings: processes per machine, machines, rendezvous."""
    parser.add_argument("--nproc-per-node", type=int, help=t("cli.arg.nproc_per_node"))
    parser.add_argument("--nnodes", type=int, help=t("cli.arg.nnodes"))
    parser.add_argument("--rdzv-endpoint", help=t("cli.arg.rdzv_endpoint"))


def build_parser() -> argparse.ArgumentParser:
    """The parser, built when it is used: its help is in the language of that moment."""

    parser = _Parser(prog="python -m cnn_core", description=t("cli.description"))
    sub = parser.add_subparsers(dest="command", required=True, title=t("cli.commands"), parser_class=_Parser)
    train = sub.add_parser("train", help=t("cli.train.help"), description=t("cli.train.help"))
    train.add_argument("--dataset", default="digits", choices=list(DATASETS), help=t("cli.arg.dataset"))
    network = train.add_mutually_exclusive_group()
    network.add_argument("--preset", default="seed002_mnist_cnn", choices=list(PRESETS), help=t("cli.arg.preset"))
    network.add_argument("--spec", help=t("cli.arg.spec"))
    train.add_argument("--epochs", type=int, help=t("cli.arg.epochs"))
    train.add_argument("--batch-size", type=int, help=t("cli.arg.batch_size"))
    train.add_argument("--lr", type=float, help=t("cli.arg.lr"))
    train.add_argument("--optimizer", choices=OPTIMIZERS, help=t("cli.arg.optimizer"))
    train.add_argument("--schedule", choices=SCHEDULES, help=t("cli.arg.schedule"))
    train.add_argument("--weight-decay", type=float, help=t("cli.arg.weight_decay"))
    train.add_argument("--label-smoothing", type=float, help=t("cli.arg.label_smoothing"))
    train.add_argument("--clip-grad-norm", type=float, help=t("cli.arg.clip_grad_norm"))
    train.add_argument("--val-split", type=float, help=t("cli.arg.val_split"))
    train.add_argument("--normalization", choices=NORMALIZATIONS, help=t("cli.arg.normalization"))
    train.add_argument("--augment", nargs="*", choices=AUGMENTATIONS, help=t("cli.arg.augment"))
    train.add_argument("--amp", action="store_true", default=None, help=t("cli.arg.amp"))
    train.add_argument("--device", choices=DEVICES, help=t("cli.arg.device"))
    train.add_argument("--seed", type=int, help=t("cli.arg.seed"))
    train.add_argument("--name", help=t("cli.arg.name"))
    train.add_argument("--folder", help=t("cli.arg.folder"))
    train.add_argument("--data-dir", help=t("cli.arg.data_dir"))
    train.add_argument("--runs-dir", help=t("cli.arg.runs_dir"))
    train.add_argument("--wait", action="store_true", help=t("cli.arg.wait"))
    _processes(train)
    train.add_argument("--node-rank", type=int, default=0, help=t("cli.arg.node_rank"))
    train.add_argument("--run-id", help=t("cli.arg.run_id"))
    for name in ("resume", "stop"):
        p = sub.add_parser(name, help=t(f"cli.{name}.help"), description=t(f"cli.{name}.help"))
        p.add_argument("run", help=t("cli.arg.run"))
        p.add_argument("--runs-dir", help=t("cli.arg.runs_dir"))
        if name == "resume":
            p.add_argument("--wait", action="store_true", help=t("cli.arg.wait"))
            _processes(p)
    status = sub.add_parser("status", help=t("cli.status.help"), description=t("cli.status.help"))
    status.add_argument("run", help=t("cli.arg.run"))
    status.add_argument("--runs-dir", help=t("cli.arg.runs_dir"))
    status.add_argument("--json", action="store_true", help=t("cli.arg.json"))
    listing = sub.add_parser("list", help=t("cli.list.help"), description=t("cli.list.help"))
    listing.add_argument("--runs-dir", help=t("cli.arg.runs_dir"))
    return parser


def main(argv: list[str] | None = None) -> int:

    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            if args.node_rank:  # another machine's share of a run that machine 0 launches
                if not args.run_id:
                    raise ConfigError(t("cli.err.join_needs_run_id"))
                run_dir = join_run(args.run_id, args.runs_dir, args.node_rank, args.rdzv_endpoint)
            else:
                config = _config_from_args(args)
                run_dir = launch_run(config, args.runs_dir, run_id=args.run_id, endpoint=args.rdzv_endpoint)
            print(run_dir)
            sys.stdout.flush()
            if args.wait:
                return _report(follow(run_dir), run_dir)
            return 0
        run_dir = resolve_run_dir(args.run, args.runs_dir) if args.command != "list" else None
        if args.command == "resume":
            resume_run(run_dir, None, args.nproc_per_node, args.nnodes, args.rdzv_endpoint)
            print(run_dir)
            return _report(follow(run_dir), run_dir) if args.wait else 0
        if args.command == "stop":
            request_stop(run_dir)
            print(t("cli.stop_requested", run=run_dir.name))
            return 0
        if args.command == "status":
            status = read_status(run_dir)
            if args.json:
                print(json.dumps(asdict(status), indent=1))
            else:
                where = t(
                    "cli.where", epoch=status.epoch, epochs=status.epochs, step=status.step, steps=status.total_steps
                )
                if status.world_size > 1:
                    where += " " + t("cli.processes", n=status.world_size)
                print(
                    f"{run_dir.name}: {_state(status.state)} {where}"
                    + (" " + t("cli.test_acc", acc=f"{status.test_acc:.4f}") if status.test_acc is not None else "")
                    + (" " + t("cli.error", error=status.error) if status.error else "")
                    + (" (" + status.limit_text() + ")" if status.limit_text() else "")
                )
            return 0
        for run in list_runs(args.runs_dir):
            acc = f"{run.status.test_acc:.4f}" if run.status.test_acc is not None else "-"
            print(
                f"{run.run_id}  {_state(run.status.state):<11} {run.config.get('dataset', '?'):<13} "
                f"{run.config.get('preset') or t('cli.custom_spec'):<28} {run.status.progress:6.1%}  {t('cli.test_acc', acc=acc)}"
            )
        return 0
    except (ConfigError, SpecError, RunError, OSError) as exc:
        print(t("cli.error", error=exc), file=sys.stderr)
        return 2


def _report(status: Status, run_dir: Path) -> int:
    if status.state == "completed":
        print(t("cli.completed", accuracy=f"{status.test_acc:.4f}"))
        return 0
    print(
        _state(status.state)
        + (": " + str(status.error) if status.error else "")
        + " "
        + t("cli.log", path=run_dir / "worker.log"),
        file=sys.stderr,
    )
    return 1
