"""Run directories: ids that cannot escape the runs root, metrics.jsonl that survives a torn
write, and read_status that reports dead or silent workers as interrupted. Torch-free and fast."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from cnn_core.files import read_json, write_json_atomic
from cnn_core.runs import directory as runs
from cnn_core.runs.directory import RunError, Status, read_status
from cnn_core.runs.metrics import MetricsCorrupt, append_metrics, read_metrics, truncate_metrics

# ---------------------------------------------------------------- metrics.jsonl


def _records():
    return [
        {"kind": "step", "step": 1, "loss": 2.0},
        {"kind": "step", "step": 2, "loss": 1.5},
        {"kind": "epoch", "epoch": 1, "step": 2},
        {"kind": "step", "step": 3, "loss": 1.2},
        {"kind": "step", "step": 4, "loss": 1.0},
        {"kind": "epoch", "epoch": 2, "step": 4},
        {"kind": "test", "step": 4, "test_acc": 0.5},
    ]


def test_metrics_round_trip(tmp_path):
    append_metrics(tmp_path, _records()[:3])
    append_metrics(tmp_path, _records()[3:])
    append_metrics(tmp_path, [])  # a no-op
    assert read_metrics(tmp_path) == _records()
    assert read_metrics(tmp_path / "missing") == []


def test_torn_tail_is_ignored(tmp_path):
    append_metrics(tmp_path, _records()[:5])
    with open(tmp_path / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"kind":"step","step":5,"lo')  # a crash mid-write: no newline
    assert read_metrics(tmp_path) == _records()[:5]


def test_corrupt_middle_line_raises(tmp_path):
    lines = [json.dumps(r) for r in _records()]
    lines[2] = '{"kind":"epoch","ep'
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MetricsCorrupt, match="line 3"):
        read_metrics(tmp_path)
    # a line that is JSON but not a record is corruption too
    lines[2] = "[1, 2]"
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MetricsCorrupt):
        read_metrics(tmp_path)


def test_truncate_drops_later_records_and_the_torn_tail(tmp_path):
    append_metrics(tmp_path, _records())
    with open(tmp_path / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"kind":"step","st')
    truncate_metrics(tmp_path, step=3, epoch=1)
    kept = read_metrics(tmp_path)
    assert kept == [
        r for r in _records() if (r["kind"] == "step" and r["step"] <= 3) or (r["kind"] == "epoch" and r["epoch"] <= 1)
    ]
    text = (tmp_path / "metrics.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n") and len(text.splitlines()) == len(kept)  # the torn line is gone
    assert not list(tmp_path.glob(".metrics*"))  # no temporary file left
    truncate_metrics(tmp_path, step=0, epoch=0)
    assert read_metrics(tmp_path) == []
    truncate_metrics(tmp_path / "nothing-here", step=0, epoch=0)  # no file: nothing to do


# ---------------------------------------------------------------- run ids and paths


@pytest.mark.parametrize(
    "bad",
    ["../x", "..", ".", "a/b", "/etc", "Upper", "ABC", "a" * 65, "", "-lead", "a b", "a\x00b", "run/../../etc", "x\n"],
)
def test_run_path_refuses_bad_ids(bad, tmp_path):
    with pytest.raises(RunError):
        runs.run_path(bad, tmp_path)


def test_run_path_accepts_good_ids(tmp_path):
    assert runs.run_path("a" * 64, tmp_path) == (tmp_path / ("a" * 64)).resolve()
    run_id = runs.new_run_id("Fashion MNIST/../x")
    assert runs.RUN_ID_PATTERN.fullmatch(run_id)
    assert runs.run_path(run_id, tmp_path).parent == tmp_path.resolve()


def test_resolve_run_dir_refuses_dirs_outside_the_root(tmp_path):
    root = tmp_path / "runs"
    inside = root / "good-run"
    outside = tmp_path / "elsewhere" / "good-run2"
    for d in (inside, outside):
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
    assert runs.resolve_run_dir("good-run", root) == inside.resolve()
    assert runs.resolve_run_dir(str(inside), root) == inside.resolve()
    with pytest.raises(RunError):
        runs.resolve_run_dir(str(outside), root)
    with pytest.raises(RunError):
        runs.resolve_run_dir(str(root / ".." / "elsewhere" / "good-run2"), root)
    with pytest.raises(RunError):
        runs.resolve_run_dir("../elsewhere/good-run2", root)
    with pytest.raises(RunError):
        runs.resolve_run_dir("missing-run", root)
    with pytest.raises(RunError):  # a directory without config.json is not a run
        runs.resolve_run_dir(str(tmp_path), None)
    bad_name = tmp_path / "Bad_Name"
    bad_name.mkdir()
    (bad_name / "config.json").write_text("{}")
    with pytest.raises(RunError):
        runs.resolve_run_dir(str(bad_name), None)


# ---------------------------------------------------------------- read_status


def _write_status(run_dir, **fields):
    run_dir.mkdir(exist_ok=True)
    (run_dir / "status.json").write_text(json.dumps(asdict(Status(**fields))))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # finished and reaped
    return proc.pid


def test_running_with_a_dead_pid_is_interrupted(tmp_path):
    run_dir = tmp_path / "r1"
    _write_status(run_dir, state="running", pid=_dead_pid(), heartbeat=time.time())
    assert read_status(run_dir).state == "interrupted"
    _write_status(run_dir, state="stopping", pid=_dead_pid(), heartbeat=time.time())
    assert read_status(run_dir).state == "interrupted"


def test_running_with_a_live_non_worker_pid_is_interrupted(tmp_path):
    import os

    run_dir = tmp_path / "r1"
    _write_status(run_dir, state="running", pid=os.getpid(), heartbeat=time.time())  # pytest: not a worker
    assert read_status(run_dir).state == "interrupted"


def test_stale_heartbeat_is_interrupted(tmp_path, fake_worker):
    run_dir = tmp_path / "r1"
    _write_status(run_dir, state="running", pid=fake_worker.pid, heartbeat=time.time())
    assert read_status(run_dir).state == "running"
    _write_status(run_dir, state="running", pid=fake_worker.pid, heartbeat=time.time() - runs.STALE_HEARTBEAT_S - 5)
    assert read_status(run_dir).state == "interrupted"
    _write_status(run_dir, state="running", pid=fake_worker.pid, heartbeat=None)
    assert read_status(run_dir).state == "interrupted"


def test_queued_states(tmp_path, fake_worker):
    run_dir = tmp_path / "r1"
    _write_status(run_dir, state="queued", pid=None)  # just launched: the worker has not written yet
    assert read_status(run_dir).state == "queued"
    _write_status(run_dir, state="queued", pid=fake_worker.pid, heartbeat=time.time())
    assert read_status(run_dir).state == "queued"
    _write_status(run_dir, state="queued", pid=_dead_pid(), heartbeat=time.time())
    assert read_status(run_dir).state == "interrupted"
    _write_status(run_dir, state="queued", pid=None, created=time.time() - 100)  # never came
    assert read_status(run_dir).state == "interrupted"


def test_final_states_are_left_alone_and_junk_is_tolerated(tmp_path):
    run_dir = tmp_path / "r1"
    for state in ("stopped", "completed", "failed"):
        _write_status(run_dir, state=state, pid=_dead_pid(), heartbeat=0.0)
        assert read_status(run_dir).state == state
    (run_dir / "status.json").write_text('{"state": "completed", "pid": 1, "extra_key": 5}')
    assert read_status(run_dir).state == "completed"
    # status.json is replaced atomically, but junk in it must not crash a reader
    for junk in (b'{"state": "runn', b"[1, 2]", b"\xff\xfe", b"null"):
        (run_dir / "status.json").write_bytes(junk)
        assert read_status(run_dir).state in (
            "queued",
            "running",
            "stopping",
            "stopped",
            "interrupted",
            "completed",
            "failed",
        )


def test_list_runs_skips_what_is_not_a_run(tmp_path):
    (tmp_path / "good-run").mkdir()
    (tmp_path / "good-run" / "config.json").write_text('{"dataset": "digits"}')
    _write_status(tmp_path / "good-run", state="completed")
    for name, config in (("list-config", b"[1]"), ("binary-config", b"\xff\x00"), ("Bad_Name", b"{}")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_bytes(config)
    (tmp_path / "no-config").mkdir()
    (tmp_path / "a-file").write_text("x")
    assert [r.run_id for r in runs.list_runs(tmp_path)] == ["good-run"]
    assert runs.list_runs(tmp_path / "missing") == []


def test_write_json_atomic_from_two_threads(tmp_path, monkeypatch):
    """The worker's heartbeat thread and its training loop both rewrite status.json."""
    import os
    import threading

    real_fsync = os.fsync

    def slow_fsync(fd):  # a real disk: the other thread gets to run while this one syncs
        time.sleep(0.001)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    path = tmp_path / "status.json"
    errors = []

    def writer(k):
        for i in range(100):
            try:
                write_json_atomic(path, {"writer": k, "i": i})
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert read_json(path)["i"] == 99
    assert not list(tmp_path.glob(".status.json.*"))  # no temporary file left behind


def test_a_page_looks_again_quickly_until_an_active_runs_first_point(tmp_path):
    from cnn_core.runs.directory import RunInfo
    from cnn_core.runs.metrics import FIRST_POINT_REFRESH_S, append_metrics, refresh_interval_s

    def run(name: str, state: str) -> RunInfo:
        path = tmp_path / name
        path.mkdir()
        return RunInfo(name, path, Status(state=state), {})

    done, training = run("done", "completed"), run("training", "running")
    assert refresh_interval_s([done]) is None  # nothing active: no refresh at all
    assert refresh_interval_s([done, training], live_s=1.0) == FIRST_POINT_REFRESH_S < 1.0
    append_metrics(training.path, [{"kind": "step", "step": 1}])
    assert refresh_interval_s([done, training], live_s=1.0) == 1.0
    (tmp_path / "elsewhere.jsonl").write_text("{}\n")
    linked = run("linked", "queued")
    (linked.path / "metrics.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")  # a link is no record of its own
    assert refresh_interval_s([training, linked], live_s=1.0) == FIRST_POINT_REFRESH_S
