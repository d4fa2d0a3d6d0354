"""The runs folder holds: every run reference resolves inside the runs root, nothing under it is
followed out of it by a symbolic link, garbage run ids are RunErrors, the worker's last status
is final, and the queue is first-in, first-out (issue 12, items 2, 3, 4 and 8)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from cnn_core.errors import CnnLabError
from cnn_core.files import read_json, write_json_atomic
from cnn_core.runs import directory as runs
from cnn_core.runs import worker
from cnn_core.runs.cli import main as cli_main
from cnn_core.runs.directory import RunError, Status
from cnn_core.runs.queue import try_claim_slot


def _make_run(run_dir: Path, **status) -> Path:
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / "config.json", {"dataset": "digits", "epochs": 1})
    write_json_atomic(run_dir / "status.json", asdict(Status(**{"state": "stopped", **status})))
    return run_dir


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- item 2: references stay in the root


@pytest.mark.parametrize("root_from", ["flag", "env", "default"])
@pytest.mark.parametrize("command", ["status", "stop", "resume"])
def test_cli_refuses_run_references_outside_the_root(tmp_path, monkeypatch, capsys, root_from, command):
    cwd = tmp_path / "cwd"
    root = cwd / "runs"  # the default root is `runs` in the current directory
    root.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("CNN_LAB_RUNS_DIR", raising=False)
    flag = []
    if root_from == "flag":
        flag = ["--runs-dir", str(root)]
    elif root_from == "env":
        monkeypatch.setenv("CNN_LAB_RUNS_DIR", str(root))
    outside = _make_run(tmp_path / "elsewhere" / "good-run")
    in_cwd = _make_run(cwd / "good-run2")  # run-shaped, but not in the runs root
    before = {d: _snapshot(d) for d in (outside, in_cwd)}
    for ref in (os.path.join("..", "elsewhere", "good-run"), str(outside), "good-run2", str(in_cwd)):
        assert cli_main([command, ref, *flag]) == 2, ref
        captured = capsys.readouterr()
        assert "error:" in captured.err and "good-run" not in captured.out
    assert {d: _snapshot(d) for d in (outside, in_cwd)} == before  # nothing written, no worker.log


def test_resolve_run_dir_uses_the_default_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CNN_LAB_RUNS_DIR", raising=False)
    inside = _make_run(tmp_path / "runs" / "good-run")
    _make_run(tmp_path / "stray-run")
    assert runs.resolve_run_dir("good-run") == inside.resolve()
    assert runs.resolve_run_dir("runs/good-run") == inside.resolve()
    for ref in ("stray-run", str(tmp_path / "stray-run"), "runs/../stray-run", "./stray-run"):
        with pytest.raises(RunError):
            runs.resolve_run_dir(ref)


# ---------------------------------------------------------------- item 4: garbage ids


@pytest.mark.parametrize("ref", ["bad\x00id", "a" * 5000, "", "x/" * 3000, "\ud800", 12, None, b"run"])
def test_garbage_run_references_are_run_errors(tmp_path, ref):
    with pytest.raises(RunError) as info:
        runs.resolve_run_dir(ref, tmp_path)
    assert "\x00" not in str(info.value) and len(str(info.value)) < 300
    with pytest.raises(RunError):
        runs.run_path(ref, tmp_path)


def test_garbage_runs_root_is_a_run_error(tmp_path):
    for root in (str(tmp_path) + "/\x00", str(tmp_path) + "/" + "r" * 5000):
        with pytest.raises(RunError):
            runs.resolve_run_dir("good-run", root)
        with pytest.raises(RunError):
            runs.run_path("good-run", root)


# ---------------------------------------------------------------- item 3: no link is followed


def test_a_status_link_is_not_read(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"state": "completed", "test_acc": 0.99, "epochs": 7}))
    run_dir = _make_run(tmp_path / "runs" / "good-run")
    (run_dir / "status.json").unlink()
    (run_dir / "status.json").symlink_to(secret)
    status = runs.read_status(run_dir)
    assert status.test_acc is None and status.epochs == 0
    assert read_json(run_dir / "status.json") is None


def test_a_stop_link_does_not_create_its_target(tmp_path):
    target = tmp_path / "elsewhere" / "created-by-stop"
    target.parent.mkdir()
    run_dir = _make_run(tmp_path / "runs" / "good-run")
    (run_dir / runs.STOP_FILE).symlink_to(target)
    with pytest.raises(RunError):
        runs.request_stop(run_dir)
    assert not target.exists()


def test_a_checkpoints_link_does_not_make_the_worker_write_outside(tmp_path):
    from cnn_core.train.checkpoints import load_latest_checkpoint, save_checkpoint

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    run_dir = _make_run(tmp_path / "runs" / "good-run")
    (run_dir / "checkpoints").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CnnLabError):
        save_checkpoint(run_dir, {"model": {}}, 1)
    assert list(outside.iterdir()) == []
    assert load_latest_checkpoint(run_dir) == (None, None)


def test_a_metrics_link_is_not_appended_to_or_read(tmp_path):
    from cnn_core.runs.metrics import append_metrics, read_metrics

    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"kind":"test","acc":1}\n')
    run_dir = _make_run(tmp_path / "runs" / "good-run")
    (run_dir / "metrics.jsonl").symlink_to(outside)
    with pytest.raises(CnnLabError):
        append_metrics(run_dir, [{"kind": "step", "step": 1}])
    assert read_metrics(run_dir) == []
    assert outside.read_text() == '{"kind":"test","acc":1}\n'


def test_an_atomic_write_does_not_follow_a_link_on_its_temporary_name(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched")
    run_dir = _make_run(tmp_path / "runs" / "good-run")
    tmp = run_dir / f".status.json.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.symlink_to(target)
    runs.write_status(run_dir, Status(state="queued"))
    assert target.read_text() == "untouched"
    assert read_json(run_dir / "status.json")["state"] == "queued"


def test_a_linked_run_folder_is_not_listed_or_resolved(tmp_path):
    root = tmp_path / "runs"
    _make_run(root / "real-run")
    outside = _make_run(tmp_path / "elsewhere" / "linked-run", state="completed", test_acc=0.5)
    (root / "linked-run").symlink_to(outside, target_is_directory=True)
    assert [r.run_id for r in runs.list_runs(root)] == ["real-run"]
    for ref in ("linked-run", str(root / "linked-run")):
        with pytest.raises(RunError):
            runs.resolve_run_dir(ref, root)
    with pytest.raises(RunError):
        runs.run_path("linked-run", root)


# ---------------------------------------------------------------- item 8: final status, FIFO queue


def test_a_late_heartbeat_does_not_overwrite_the_final_status(runs_root, monkeypatch):
    """A heartbeat that is in the middle of a slow write when training ends must finish before the
    final status is written; without the join it lands after and says 'running'."""
    import signal

    import cnn_core.train.loop as loop

    run_dir = _make_run(runs_root / "beat-run", state="queued")
    beat_started, final_written = threading.Event(), threading.Event()
    real_write = worker.write_status

    def write(run_dir, status):
        if threading.current_thread() is threading.main_thread():
            real_write(run_dir, status)
            if status.state == "completed":
                final_written.set()
            return None
        snapshot = Status(**asdict(status))  # a beat serialises 'running' now, writes it later
        beat_started.set()
        final_written.wait(0.5)
        return real_write(run_dir, snapshot)

    def fake_training(run_dir, config, should_stop, status, on_log, time_budget_s=None, ranks=None):
        assert beat_started.wait(10), "no heartbeat"
        return {"test_acc": 0.5}

    monkeypatch.setattr(worker, "HEARTBEAT_S", 0.001, raising=False)
    monkeypatch.setattr(worker, "write_status", write)
    monkeypatch.setattr(loop, "run_training", fake_training)
    monkeypatch.setattr(worker.os, "nice", lambda n: 0)
    monkeypatch.setattr(worker.TrainConfig, "from_dict", staticmethod(lambda d: worker.TrainConfig()))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    before = set(threading.enumerate())
    try:
        assert worker.run_worker(run_dir) == 0
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    for thread in set(threading.enumerate()) - before:  # let a stray beat land, if one is left
        thread.join(5)
    raw = read_json(run_dir / "status.json")
    assert raw["state"] == "completed" and raw["test_acc"] == 0.5


def _queued_runs(root: Path, n: int, created: float | None = None) -> list[Path]:
    """n runs created the way launch_run creates them: queued, no worker pid yet."""
    made = []
    for i in range(n):
        run_dir = root / f"run-{i}-{'zyxw'[i % 4]}"
        run_dir.mkdir()
        write_json_atomic(run_dir / "config.json", {"dataset": "digits"})
        runs.write_status(run_dir, Status(state="queued", created=created or time.time()))
        made.append(run_dir)
    return made


def _claim(run_dir: Path) -> bool:
    status = runs.read_status(run_dir)
    claimed = try_claim_slot(run_dir, status)
    if claimed:  # done at once: frees the slot for the next in line
        status.state = "completed"
        runs.write_status(run_dir, status)
    return claimed


def test_back_to_back_launches_start_in_launch_order(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_CONCURRENT_RUNS", "1")
    launched = _queued_runs(runs_root, 4)
    started = []
    waiting = list(launched)
    while waiting:
        # workers come up in any order (here: newest first); only the oldest waiting one may start
        for run_dir in reversed(waiting):
            if _claim(run_dir):
                started.append(run_dir)
                waiting.remove(run_dir)
                break
    assert started == launched


def test_simultaneous_launches_have_a_strict_order(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_CONCURRENT_RUNS", "1")
    same_time = time.time()
    first, second = sorted(_queued_runs(runs_root, 2, created=same_time))
    assert not _claim(second)  # equal timestamps: the run id breaks the tie, never both
    assert _claim(first)
    assert _claim(second)


def test_a_worker_log_link_is_not_written_through(tmp_path):
    from cnn_core.files import UnsafePathError
    from cnn_core.runs.launcher import spawn_worker

    run_dir = tmp_path / "runs" / "20260101-000000-digits-0000"
    run_dir.mkdir(parents=True)
    outside = tmp_path / "outside.log"
    outside.write_text("untouched")
    (run_dir / "worker.log").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        spawn_worker(run_dir)
    assert outside.read_text() == "untouched"
