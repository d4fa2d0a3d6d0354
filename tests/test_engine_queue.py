"""The run queue under a cap of one: later runs wait as 'queued', a queued run can be stopped,
a kill -9 of the running worker frees its slot, and a finished run hands its slot on, all
without anybody calling anything (queued workers poll for their slot themselves)."""

from __future__ import annotations

import os
import signal
import time

from cnn_core.runs.directory import list_runs, pid_is_worker, read_status, request_stop
from cnn_core.runs.launcher import launch_run
from tests.conftest import kill_leftovers, leftover_pids, tiny_config, wait_for, wait_state


def test_queue_with_a_cap_of_one(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_CONCURRENT_RUNS", "1")
    running_seen = []

    def check_cap():
        running = [r.run_id for r in list_runs(runs_root) if r.status.state in ("running", "stopping")]
        running_seen.append(running)
        assert len(running) <= 1, f"more than one run active under a cap of 1: {running}"

    first = launch_run(tiny_config(epochs=1000))  # runs until it is killed
    wait_state(first, "running", timeout=60)
    second = launch_run(tiny_config(epochs=2, seed=1))
    third = launch_run(tiny_config(epochs=2, seed=2))
    fourth = launch_run(tiny_config(epochs=2, seed=3))
    for run in (second, third, fourth):  # each has a live worker of its own, waiting
        wait_for(
            lambda: read_status(run).state == "queued" and pid_is_worker(read_status(run).pid),
            60,
            message=f"{run.name} queued with a live worker",
        )

    # while the first one runs, the others stay queued (watch for a few of their polls)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        check_cap()
        assert read_status(first).state == "running"
        assert [read_status(r).state for r in (second, third, fourth)] == ["queued"] * 3
        time.sleep(0.1)

    # stopping a queued run makes it 'stopped' and ends its worker
    third_pid = read_status(third).pid
    request_stop(third)
    wait_state(third, "stopped", timeout=30)
    wait_for(lambda: not pid_is_worker(third_pid), 15, message="the stopped queued worker to exit")

    # kill -9 the running worker: its slot frees itself, the oldest queued run starts
    first_pid = read_status(first).pid
    killed_at = time.time()
    os.kill(first_pid, signal.SIGKILL)
    status = wait_for(
        lambda: check_cap() or (read_status(second) if read_status(second).state in ("running", "completed") else None),
        60,
        interval=0.05,
        message="the second run to start after the kill",
    )
    assert read_status(first).state == "interrupted"
    assert status.started >= killed_at
    assert read_status(fourth).state in ("queued", "running", "completed")

    # the second completes; the fourth then starts by itself
    def fourth_started():
        check_cap()
        return read_status(fourth).state in ("running", "completed")

    wait_for(fourth_started, 90, interval=0.05, message="the fourth run to start")
    second_status, fourth_status = read_status(second), read_status(fourth)
    assert second_status.state == "completed" and second_status.test_acc is not None
    assert fourth_status.started >= second_status.finished
    assert read_status(third).state == "stopped"
    assert any(running == [fourth.name] for running in running_seen)
    # (its training is not needed here: the fixture's teardown kills the fourth worker)


def test_teardown_kills_leftover_workers(runs_root):
    """The runs_root fixture's cleanup itself: a worker left running is found and killed."""
    run_dir = launch_run(tiny_config(epochs=1000))
    pid = wait_for(
        lambda: pid_is_worker(read_status(run_dir).pid) and read_status(run_dir).pid, 60, message="a live worker"
    )
    assert pid in leftover_pids(runs_root)
    assert pid in kill_leftovers(runs_root)
    wait_for(lambda: not pid_is_worker(pid), 10, message="the leftover worker to die")
    assert leftover_pids(runs_root) == set()
