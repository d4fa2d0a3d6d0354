"""A hosted demo's limits, enforced in cnn_core (the launcher and the worker), not only on a page:
each one refused by a direct call with a message that names it, before any run exists."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest

from cnn_core.data.uploads import UploadError, decode_upload, unpack_upload
from cnn_core.files import write_json_atomic
from cnn_core.runs import demo
from cnn_core.runs.directory import (
    EXAMPLES_OWNER,
    RunError,
    Status,
    read_status,
    record_owner,
    write_status,
)
from cnn_core.runs.launcher import check_launch, launch_run, resume_run
from cnn_core.settings import get_settings
from cnn_core.train.config import ConfigError
from tests.conftest import png_bytes, tiny_config, wait_state


@pytest.fixture
def demo_root(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_DEMO", "1")
    return runs_root


def fake_run(root, run_id: str, owner: str | None, state: str = "completed", created: float | None = None, size=0):
    """A run folder as a worker leaves it, owned by owner, with `size` bytes of weights."""
    run_dir = root / run_id
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", tiny_config().to_dict())
    write_status(run_dir, Status(state=state, created=created or time.time(), heartbeat=time.time()))
    if owner is not None:
        record_owner(run_dir, owner)
    if size:
        (run_dir / "model.safetensors").write_bytes(b"\0" * size)
    return run_dir


def refused(root, config, visitor="visitor-a", match=""):
    """launch_run refuses config with a message containing match, and no run folder appears."""

    def runs():
        return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))  # the lock file is no run

    before = runs()
    with pytest.raises(ConfigError, match=match) as caught:
        launch_run(config, root, visitor=visitor)
    assert runs() == before
    return str(caught.value)


def test_demo_mode_is_one_switch(monkeypatch):
    monkeypatch.delenv("CNN_LAB_DEMO", raising=False)
    assert not get_settings().demo and get_settings().max_run_seconds == 0
    for value in ("1", "true", "YES", " on "):
        monkeypatch.setenv("CNN_LAB_DEMO", value)
        settings = get_settings()
        assert settings.demo
        assert settings.max_run_seconds > 0 and settings.max_runs_per_visitor > 0 and settings.max_queued_runs > 0
        assert settings.max_runs_disk_bytes > 0 and settings.max_epochs <= 100
        assert settings.max_upload_bytes <= 10 * 2**20
    monkeypatch.setenv("CNN_LAB_DEMO", "0")
    assert not get_settings().demo


def test_a_demo_trains_only_the_embedded_datasets(demo_root):
    message = refused(demo_root, tiny_config(dataset="mnist", spec=None, preset="seed002_mnist_cnn"), match="digits")
    assert "CNN_LAB_DEMO" in message and "mnist" in message
    refused(demo_root, tiny_config(dataset="folder", spec=None, preset="lenet5", folder_path="/tmp"), match="folder")


def test_a_demo_trains_on_the_cpu_only(demo_root):
    message = refused(demo_root, tiny_config(device="cuda"), match="CPU")
    assert "CNN_LAB_DEMO" in message
    refused(demo_root, tiny_config(device="mps"), match="CPU")
    automatic = tiny_config(device="auto")
    check_launch(automatic)
    assert automatic.device == "cpu"


def test_a_demo_downloads_no_pretrained_weights(demo_root):
    refused(demo_root, tiny_config(spec=None, preset="resnet18_transfer"), match="pretrained")


def test_the_epoch_cap_names_its_setting(demo_root, monkeypatch):
    cap = get_settings().max_epochs
    message = refused(demo_root, tiny_config(epochs=cap + 1), match="CNN_LAB_MAX_EPOCHS")
    assert f"{cap + 1} epochs" in message and str(cap) in message
    monkeypatch.setenv("CNN_LAB_MAX_EPOCHS", "3")
    refused(demo_root, tiny_config(epochs=4), match="limit of 3 epochs")


def test_the_epoch_cap_holds_outside_a_demo_too(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_EPOCHS", "2")
    refused(runs_root, tiny_config(epochs=3), visitor=None, match="CNN_LAB_MAX_EPOCHS")


def test_runs_per_visitor(demo_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_RUNS_PER_VISITOR", "2")
    fake_run(demo_root, "a-one", "visitor-a")
    fake_run(demo_root, "a-two", "visitor-a", state="failed")
    fake_run(demo_root, "b-one", "visitor-b")
    fake_run(demo_root, "example-one", EXAMPLES_OWNER)
    message = refused(demo_root, tiny_config(), visitor="visitor-a", match="CNN_LAB_MAX_RUNS_PER_VISITOR")
    assert "2 runs" in message
    # another visitor, and the operator, are not counted against visitor-a's runs
    demo.check_launch_limits("visitor-b", demo_root)
    demo.check_launch_limits(None, demo_root)


def test_runs_waiting_in_the_queue(demo_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_QUEUED_RUNS", "2")
    fake_run(demo_root, "waiting-one", "visitor-b", state="queued")
    demo.check_launch_limits("visitor-a", demo_root)
    fake_run(demo_root, "waiting-two", "visitor-c", state="queued")
    message = refused(demo_root, tiny_config(), match="CNN_LAB_MAX_QUEUED_RUNS")
    assert "2 runs" in message


def test_disk_pruning_removes_the_oldest_visitor_runs_never_examples(demo_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_RUNS_DISK_MB", "1")
    half = 450 * 1024
    now = time.time()
    example = fake_run(demo_root, "example-old", EXAMPLES_OWNER, created=now - 500, size=half)
    operator = fake_run(demo_root, "operator-old", None, created=now - 400, size=10)
    oldest = fake_run(demo_root, "visitor-oldest", "visitor-b", created=now - 300, size=half)
    newer = fake_run(demo_root, "visitor-newer", "visitor-c", created=now - 200, size=half)
    demo.check_launch_limits("visitor-a", demo_root)
    assert not oldest.exists()  # the oldest visitor run went first, and that was enough
    assert example.exists() and operator.exists() and newer.exists()
    assert demo.runs_disk_bytes(demo_root) < 2**20


def test_disk_cap_refuses_when_nothing_can_be_pruned(demo_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_RUNS_DISK_MB", "1")
    example = fake_run(demo_root, "example-big", EXAMPLES_OWNER, size=700 * 1024)
    active = fake_run(demo_root, "active-big", "visitor-b", state="queued", size=700 * 1024)
    message = refused(demo_root, tiny_config(), match="CNN_LAB_MAX_RUNS_DISK_MB")
    assert "1 MB" in message
    assert example.exists() and active.exists()


def test_disk_use_never_follows_links(demo_root, tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\0" * 100_000)
    run_dir = fake_run(demo_root, "linked", "visitor-b")
    os.symlink(outside, run_dir / "weights.bin")
    assert demo.folder_bytes(run_dir) < 10_000


def test_uploads_are_capped_and_a_demo_unpacks_no_zip(demo_root, tmp_path):
    cap = get_settings().max_upload_bytes
    with pytest.raises(UploadError):
        decode_upload(b"\0" * (cap + 1))
    with pytest.raises(UploadError):  # a caller's larger cap cannot lift the server's
        decode_upload(b"\0" * (cap + 1), max_bytes=10 * cap)
    assert decode_upload(png_bytes(__import__("numpy").zeros((4, 4), "uint8"))).shape == (4, 4, 3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cats/a.png", b"x")
    with pytest.raises(UploadError, match="CNN_LAB_DEMO"):
        unpack_upload(buffer.getvalue(), tmp_path / "data", cap)
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------- the worker enforces them too


def test_the_worker_refuses_a_config_written_by_hand(demo_root, monkeypatch):
    """A run folder that never went through the launcher (written by hand, or before the demo was
    switched on) gets no further than the worker's own check."""
    from cnn_core.runs import worker

    run_dir = fake_run(demo_root, "by-hand", "visitor-a", state="queued")
    config = tiny_config().to_dict() | {"dataset": "mnist", "spec": None, "preset": "seed002_mnist_cnn"}
    write_json_atomic(run_dir / "config.json", config)
    monkeypatch.setattr(worker.os, "nice", lambda n: 0)
    import signal

    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert worker.run_worker(run_dir) == 1
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    status = read_status(run_dir)
    assert status.state == "failed" and "CNN_LAB_DEMO" in status.error


def test_a_run_stops_at_its_training_time_and_cannot_resume(demo_root, monkeypatch):
    """The worker stops a run whose training time reaches CNN_LAB_MAX_RUN_SECONDS: checkpointed,
    'stopped', the limit named; a resume is refused; its training time is counted over sessions."""
    monkeypatch.setenv("CNN_LAB_MAX_RUN_SECONDS", "1")
    run_dir = launch_run(tiny_config(epochs=get_settings().max_epochs, batch_size=8), demo_root, visitor="visitor-a")
    status = wait_state(run_dir, "stopped", timeout=120)
    assert "CNN_LAB_MAX_RUN_SECONDS" in status.limit
    assert status.train_s >= 1.0 and status.step > 0 and status.epoch < get_settings().max_epochs
    assert (run_dir / "checkpoints" / "latest.json").exists()
    with pytest.raises(RunError, match="CNN_LAB_MAX_RUN_SECONDS"):
        resume_run(run_dir, visitor="visitor-a")
    assert read_status(run_dir).state == "stopped"


def test_the_time_budget_is_over_all_sessions(tmp_path):
    """In-process: a budget already spent by earlier sessions stops the next one at once."""
    from cnn_core.train.loop import StopRequested, run_training

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = tiny_config(epochs=3)
    status = Status(state="running")
    with pytest.raises(StopRequested) as stop:
        run_training(run_dir, config, lambda: False, status, time_budget_s=0.0)
    assert stop.value.out_of_time and status.step == 0
    with pytest.raises(StopRequested) as stop:  # a plain stop is not a spent budget
        run_training(run_dir, config, lambda: True, status)
    assert not stop.value.out_of_time
