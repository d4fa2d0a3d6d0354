"""Runs that could never resume now do (issue 12, item 7): a checkpoint that loads but does not fit
the network falls back to the previous one, and a corrupt line in the middle of metrics.jsonl is
dropped (the original kept as metrics.jsonl.corrupt-<time>); both are said in the run's log."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from cnn_core.files import read_json, write_json_atomic
from cnn_core.runs.directory import Status
from cnn_core.runs.metrics import read_metrics
from cnn_core.train.checkpoints import checkpoint_dir, load_latest_checkpoint
from cnn_core.train.loop import StopRequested, restore, run_training
from cnn_core.train.steps import make_model, make_optimizer, make_scheduler
from tests.conftest import one_torch_thread, tiny_config


def _train(run_dir, config, stop_at_epoch=None):
    status = Status()
    with one_torch_thread():
        return run_training(
            run_dir, config, lambda: stop_at_epoch is not None and status.epoch >= stop_at_epoch, status
        )


def test_checkpoint_of_another_network_falls_back_to_the_previous_one(tmp_path, capsys):
    config = tiny_config(epochs=2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _train(run_dir, config)
    folder = checkpoint_dir(run_dir)
    pointer = read_json(folder / "latest.json")
    newest = folder / pointer["file"]
    state, _ = load_latest_checkpoint(run_dir)
    assert state["epoch"] == 2
    state["model"] = {name: torch.zeros(3, 3) for name in state["model"]}  # loads, but another network's
    torch.save(state, newest)
    pointer["sha256"] = hashlib.sha256(newest.read_bytes()).hexdigest()  # it verifies: only its shapes are wrong
    write_json_atomic(folder / "latest.json", pointer)
    capsys.readouterr()

    spec = config.architecture((1, 28, 28), 10)
    model = make_model(spec, config.seed, torch.device("cpu"), False)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, 21)
    progress = restore(run_dir, model, optimizer, scheduler, torch.device("cpu"))
    assert progress.position.epoch == 1  # the previous, valid checkpoint
    assert newest.name in capsys.readouterr().out  # said in the run's log (the worker's stdout)


def test_corrupt_middle_metrics_line_is_repaired_on_resume(tmp_path, capsys):
    config = tiny_config(epochs=3)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(StopRequested):
        _train(run_dir, config, stop_at_epoch=2)
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().split("\n")
    assert len([line for line in lines if line]) >= 3
    # corrupt a step record (not the last line): dropping it loses nothing an epoch needs
    middle = next(i for i, line in enumerate(lines[:-2]) if line and json.loads(line)["kind"] == "step")
    lines[middle] = '{"kind": "step", "ste'
    original = "\n".join(lines)
    path.write_text(original)
    capsys.readouterr()

    result = _train(run_dir, config)  # resumes instead of failing with MetricsCorrupt
    assert result["test_acc"] >= 0
    copies = list(run_dir.glob("metrics.jsonl.corrupt-*"))
    assert len(copies) == 1 and copies[0].read_text() == original
    assert copies[0].name in capsys.readouterr().out
    records = read_metrics(run_dir)
    assert records[-1]["kind"] == "test"
    assert sum(r["kind"] == "epoch" for r in records) == 3
