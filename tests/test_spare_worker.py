"""The spare worker (cnn_core.runs.spare): a process kept warm that a launch hands its run to, and
that leaves when its server is gone, when idle, and never runs what is not a run of its root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from cnn_core.files import write_json_atomic
from cnn_core.runs.directory import pid_alive, pid_is_worker, read_status
from cnn_core.runs.launcher import launch_run
from cnn_core.runs.spare import ensure_spare, hand_to_spare, spares_dir, waiting_spares
from tests.conftest import REPO_ROOT, tiny_config, wait_for

WARM_UP_S = 120  # a spare imports torch first: slow on a loaded two-core machine


def ready_pids(root):
    return sorted(int(p.name.split(".")[0]) for p in spares_dir(root).glob("*.ready"))


def test_no_spare_unless_the_settings_want_one(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "0")
    ensure_spare(runs_root)
    assert not spares_dir(runs_root).exists()


def test_a_launch_goes_to_the_warm_spare_and_trains(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "300")
    ensure_spare(runs_root)
    ensure_spare(runs_root)  # a second call while the first warms up starts no other
    assert len(waiting_spares(runs_root)) == 1
    (spare,) = wait_for(lambda: ready_pids(runs_root), WARM_UP_S, message="a warm spare")
    assert pid_is_worker(spare)  # its command line names the worker module: the status checks trust it

    run_dir = launch_run(tiny_config(epochs=1), runs_root)
    status = wait_for(
        lambda: (s := read_status(run_dir)).state in ("completed", "failed") and s, 120, message="the run to end"
    )
    assert status.state == "completed", (run_dir / "worker.log").read_text()
    assert status.pid == spare  # trained by the spare, not a fresh worker
    assert not list(spares_dir(runs_root).glob(f"{spare}.*"))  # its files are gone
    assert (run_dir / "model.safetensors").is_file()
    wait_for(lambda: not pid_alive(spare), 30, message="the spare to exit after its run")


def test_without_a_spare_a_fresh_worker_starts(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "0")
    run_dir = launch_run(tiny_config(epochs=1), runs_root)
    status = wait_for(lambda: (s := read_status(run_dir)).state == "completed" and s, 120, message="completed")
    assert status.pid is not None


def test_a_dead_spare_is_passed_over(runs_root):
    folder = spares_dir(runs_root)
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    write_json_atomic(folder / f"{pid}.ready", {"pid": pid})
    run_dir = runs_root / "20260101-000000-digits-abcd"
    run_dir.mkdir()
    assert hand_to_spare(run_dir) is None
    assert not (folder / f"{pid}.ready").exists()


def test_a_spare_leaves_when_idle_and_refuses_a_job_outside_its_root(runs_root, monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "300")
    ensure_spare(runs_root)
    (spare,) = wait_for(lambda: ready_pids(runs_root), WARM_UP_S, message="a warm spare")
    folder = spares_dir(runs_root)
    # a job naming something that is not a run folder of this root: the spare leaves, running nothing
    os.rename(folder / f"{spare}.ready", folder / f"{spare}.taken")
    write_json_atomic(folder / f"{spare}.job", {"run_id": "../../etc"})
    wait_for(lambda: not pid_alive(spare), 30, message="the spare to leave")
    assert not list(folder.glob(f"{spare}.*"))

    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "1")
    ensure_spare(runs_root)
    (idle,) = waiting_spares(runs_root)
    wait_for(lambda: not pid_alive(idle), WARM_UP_S, message="the idle spare to leave")
    assert not list(folder.glob(f"{idle}.*"))


def test_a_spare_leaves_when_its_server_is_gone(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "300")
    server = subprocess.Popen(  # a stand-in for the app: starts a spare, then waits to be killed
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from cnn_core.runs.spare import ensure_spare; "
            "ensure_spare(Path(sys.argv[1])); time.sleep(600)",
            str(runs_root),
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (spare,) = wait_for(lambda: waiting_spares(runs_root), 60, message="the server's spare")
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    wait_for(lambda: not pid_alive(spare), WARM_UP_S, message="the orphaned spare to leave")


def test_the_app_keeps_one_spare_for_its_runs_folder(runs_root, monkeypatch):
    from tests.apptest import open_app_page

    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "300")
    at = open_app_page()
    at.run()  # every run of app.py checks; one spare all the same
    assert len(waiting_spares(runs_root)) == 1


def test_a_runs_folder_that_cannot_hold_spares_leaves_launches_as_they_were(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "300")
    (runs_root / ".spares").write_text("a file where the spares' folder would be")
    ensure_spare(runs_root)  # no error, no spare
    assert waiting_spares(runs_root) == []
    run_dir = runs_root / "20260101-000000-digits-abcd"
    run_dir.mkdir()
    assert hand_to_spare(run_dir) is None


def test_a_linked_spares_folder_is_never_followed(runs_root, monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_LAB_SPARE_IDLE_S", "300")
    outside = tmp_path / "outside"
    outside.mkdir()
    (runs_root / ".spares").symlink_to(outside)
    ensure_spare(runs_root)
    assert list(outside.iterdir()) == [] and waiting_spares(runs_root) == []
